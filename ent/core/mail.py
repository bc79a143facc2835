"""Outgoing mail: templated text + HTML messages, queued in the database, sent by ``ent worker``.

Templates live in ``templates/mail/<name>.txt`` (body), ``<name>.html`` (HTML alternative) and
``<name>_subject.txt``. In demo mode the ``DemoOutboxBackend`` keeps mails in the database,
readable at ``/demo/outbox``.

How a mail leaves (issue 6, "the mail queue"):

1. ``mail_send`` renders the mail now (it says what was true when it was asked for) and writes a
   ``MailDelivery`` row and a django-tasks-db task row **in the caller's transaction**: a
   rolled-back change sends nothing, a committed one always has its mail.
2. ``ent worker`` (django-tasks-db's worker on the ``mail`` queue) runs ``mail_deliver``: under a
   row lock it marks the delivery ``sending`` (and counts the attempt) and commits; it talks SMTP
   with no transaction open; then it marks it ``sent`` and clears the rendered mail.
3. A failed attempt schedules a new task ``run_after`` a delay that doubles from
   ``MAIL_RETRY_BASE_SECONDS`` up to ``MAIL_RETRY_MAX_SECONDS``; a permanent refusal (5xx) or
   ``MAIL_MAX_ATTEMPTS`` attempts make it ``failed``: the help-desk dashboard lists it and can
   queue it again (``mail_delivery_retry``).
4. A worker killed mid-send leaves its delivery ``sending``: after ``MAIL_SENDING_LEASE_SECONDS``
   any worker queues it again (``mail_queue_recover``). The relay took no responsibility for a
   mail whose end of DATA it never acknowledged, so nothing is lost and nothing doubled.

Every mail carries a Message-ID derived from its idempotency key, so any re-send carries the same
Message-ID. The one window where a mail can leave twice is between the relay's ``250`` and the
commit of ``sent`` (step 2): a crash exactly there, or a database that stays unreachable for
the ~8 s the commit is retried, re-sends the mail after the lease with the same Message-ID, which
receiving systems use to drop duplicates. SMTP offers nothing smaller (RFC 1047).
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from email import message_from_bytes, policy
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import IntegrityError, connections, transaction
from django.db.models import Min
from django.template.loader import render_to_string
from django.utils import timezone
from django_tasks import task

logger = logging.getLogger(__name__)

#: The django-tasks queue of outgoing mail (``ent worker`` works on it).
MAIL_QUEUE = "mail"


def _build(*, to: str, template: str, context: dict[str, Any]) -> EmailMultiAlternatives:
    ctx = {
        "university_name": settings.UNIVERSITY_NAME,
        "university_short_name": settings.UNIVERSITY_SHORT_NAME,
        "base_url": settings.BASE_URL,
        "helpdesk_email": settings.HELPDESK_EMAIL,
        **context,
    }
    subject = " ".join(render_to_string(f"mail/{template}_subject.txt", ctx).split())
    text = render_to_string(f"mail/{template}.txt", ctx)
    html = render_to_string(f"mail/{template}.html", ctx)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.MAIL_FROM,
        to=[to],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(html, "text/html")
    return message


def mail_preview(*, template: str, context: dict[str, Any]) -> EmailMultiAlternatives:
    """The message ``mail_send`` would send, not sent (the documentation shows real mails)."""
    return _build(to="", template=template, context=context)


def _key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _message_id(digest: str) -> str:
    # Derived from the idempotency key: a re-send after a crash carries the same Message-ID.
    domain = settings.MAIL_FROM.rpartition("@")[2] or "ent.invalid"
    return f"<{digest[:40]}.ent@{domain}>"


def _new_delivery(**fields: Any) -> Any | None:
    """Create the row, or None when its key is already queued (the same mail asked twice)."""
    from .models import MailDelivery

    if MailDelivery.objects.filter(key=fields["key"]).exists():
        return None
    try:
        # A savepoint: a concurrent insert of the same key must not break the caller's
        # transaction (PostgreSQL aborts a transaction on an error outside a savepoint).
        with transaction.atomic():
            return MailDelivery.objects.create(created_at=timezone.now(), **fields)
    except IntegrityError:
        return None


def _enqueue(delivery: Any, *, delay: float = 0.0) -> None:
    """Queue one attempt of ``delivery`` (a task row in the same transaction)."""
    from .models import MailDelivery

    run_after = timezone.now() + timedelta(seconds=delay) if delay else None
    # A retry goes after fresh mail: during an outage of the relay, the activation mail of a
    # student who is waiting at the screen must not queue behind thousands of old retries.
    job = mail_deliver.using(run_after=run_after, priority=-1) if run_after else mail_deliver
    result = job.enqueue(delivery.pk)
    # Only if no attempt started meanwhile (tests run the task inside ``enqueue``): a newer
    # attempt's own task and time must not be overwritten by this older one.
    MailDelivery.objects.filter(pk=delivery.pk, attempts=delivery.attempts).update(
        task_id=str(result.id), next_attempt_at=run_after
    )


def _queue(**fields: Any) -> None:
    # One atomic block (a savepoint inside the caller's transaction): the row and its task are
    # written together or not at all, even when the caller forgot its own transaction.
    with transaction.atomic():
        delivery = _new_delivery(**fields)
        if delivery is not None:
            _enqueue(delivery)


def mail_send(*, to: str, template: str, context: dict[str, Any], key: str | None = None) -> None:
    """Render now and queue the mail in the current transaction; ``ent worker`` sends it.

    Call it inside the ``transaction.atomic()`` of the change that causes the mail: a rolled-back
    change leaves no mail, a committed one always has its mail (retried until the relay takes
    it). ``key`` names this mail for idempotency (default: a new one per call); a key already
    queued is not queued again. Raises ``BadHeaderError``/``ValueError`` for an address with a
    line break (header injection), before anything is written.
    """
    message = _build(to=to, template=template, context=context)
    digest = _key_digest(key or f"{template}:{uuid.uuid4().hex}")
    message.extra_headers["Message-ID"] = _message_id(digest)
    message.message()  # refuses header injection now, in the caller's request
    html = next((str(c) for c, mimetype in message.alternatives if mimetype == "text/html"), "")
    _queue(
        key=digest,
        message_id=message.extra_headers["Message-ID"],
        template=template[:64],
        sender=settings.MAIL_FROM,
        to=to,
        subject=str(message.subject)[:998],
        payload={
            "subject": str(message.subject),
            "body": str(message.body),
            "html": html,
            "headers": dict(message.extra_headers),
        },
    )


def mail_withdraw(*, keys: Sequence[str]) -> int:
    """Withdraw the mails queued under these idempotency keys that no worker has started
    (queued, or waiting for a retry): they are never sent and their content (a link's code) is
    dropped now. Returns how many were withdrawn. A mail being sent or sent is left alone."""
    from .models import MailDelivery

    if not keys:
        return 0
    State = MailDelivery.State
    return MailDelivery.objects.filter(
        key__in=[_key_digest(key) for key in keys], state__in=(State.QUEUED, State.RETRYING)
    ).update(state=State.WITHDRAWN, payload=None, raw=None, next_attempt_at=None)


def mail_send_raw(*, sender: str, recipients: list[str], raw: bytes, key: str) -> None:
    """Queue an already-built message (forwarded mail, a student's webmail message).

    ``sender`` is the envelope sender (MAIL FROM), ``recipients`` the envelope recipients (RCPT
    TO), ``raw`` the RFC 5322 bytes sent unchanged. ``key`` identifies this sending (e.g. the
    Message-ID and the recipient of a forward): a key already queued is not queued again, and
    the queue never sends it twice. Call it inside ``transaction.atomic()``, like ``mail_send``.
    """
    if any(c in value for value in (sender, *recipients) for c in "\r\n"):
        raise ValueError("line break in an envelope address")
    parsed = message_from_bytes(raw, policy=policy.default)
    digest = _key_digest(key)
    _queue(
        key=digest,
        message_id=str(parsed.get("Message-ID", ""))[:255],
        template="raw",
        sender=sender,
        to=", ".join(recipients),
        subject=str(parsed.get("Subject", ""))[:998],
        raw=raw,
    )


def mail_pretend(*, template: str, context: dict[str, Any]) -> None:
    """The database work of ``mail_send`` without its effect (pages that must answer in the same
    time whether or not a mail is queued: the password reset, against account enumeration).

    Renders the mail, inserts the two rows ``mail_send`` inserts, and rolls them back in a
    savepoint. The task row is written directly, not through ``enqueue``: nothing is told that
    a task exists, because none does once the savepoint is rolled back.
    """
    from django_tasks_db.models import DBTaskResult

    from .models import MailDelivery

    class _Discard(Exception):
        pass

    message = _build(to="", template=template, context=context)
    try:
        with transaction.atomic():
            delivery = _new_delivery(
                key=_key_digest(uuid.uuid4().hex),
                message_id="",
                template=template,
                sender=settings.MAIL_FROM,
                to="",
                subject=str(message.subject)[:998],
                payload={"subject": str(message.subject), "body": str(message.body)},
            )
            row = DBTaskResult.objects.create(
                args_kwargs={"args": [getattr(delivery, "pk", 0)], "kwargs": {}},
                task_path=mail_deliver.module_path,
                queue_name=MAIL_QUEUE,
                backend_name=mail_deliver.backend,
            )
            MailDelivery.objects.filter(pk=getattr(delivery, "pk", 0)).update(task_id=str(row.id))
            raise _Discard
    except _Discard:
        pass


# --- The worker's side ----------------------------------------------------------------------


class PermanentMailError(Exception):
    """The relay refused the mail for good (a 5xx answer): trying again would not help."""


def _permanent(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _msg in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return isinstance(exc, PermanentMailError | ValueError)


def _deliver_templated(delivery: Any) -> None:
    payload = delivery.payload
    message = EmailMultiAlternatives(
        subject=payload["subject"],
        body=payload["body"],
        from_email=delivery.sender,
        to=[delivery.to],
        headers=payload.get("headers", {}),
    )
    if payload.get("html"):
        message.attach_alternative(payload["html"], "text/html")
    # fail_silently=False: an error must reach mail_deliver, which retries.
    sent = get_connection(fail_silently=False).send_messages([message])
    if sent != 1:
        raise smtplib.SMTPException("the mail backend did not take the message")


def _deliver_raw(delivery: Any) -> list[str]:
    """Send the raw mail; returns the recipients the relay refused while taking it for others
    (smtplib raises only when every recipient is refused)."""
    recipients = [r.strip() for r in delivery.to.split(",") if r.strip()]
    raw = bytes(delivery.raw)
    connection = get_connection(fail_silently=False)
    if isinstance(connection, DemoOutboxBackend):
        connection.send_raw(sender=delivery.sender, recipients=recipients, raw=raw)
        return []
    host, port = settings.EMAIL_HOST, settings.EMAIL_PORT
    timeout = settings.EMAIL_TIMEOUT
    smtp_class = smtplib.SMTP_SSL if settings.EMAIL_USE_SSL else smtplib.SMTP
    with smtp_class(host, port, timeout=timeout) as smtp:
        if settings.EMAIL_USE_TLS:
            smtp.starttls()
        if settings.EMAIL_HOST_USER:
            smtp.login(settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD)
        refused = smtp.sendmail(delivery.sender, recipients, raw)
    return sorted(refused)


def _retry_delay(attempts: int) -> float:
    """1, 2, 4 … times the base, capped: the delay before attempt ``attempts + 1``."""
    base, cap = settings.MAIL_RETRY_BASE_SECONDS, settings.MAIL_RETRY_MAX_SECONDS
    return float(min(cap, base * 2 ** min(attempts - 1, 30)))


def _claim(delivery_id: int) -> Any | None:
    """Mark the delivery ``sending`` under a row lock, or None when it must not be sent now."""
    from .models import MailDelivery

    State = MailDelivery.State
    now = timezone.now()
    with transaction.atomic():
        delivery = MailDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None or delivery.state in (State.SENT, State.FAILED, State.WITHDRAWN):
            return None  # already sent (a task run twice), waiting for the help desk, withdrawn
        lease = timedelta(seconds=settings.MAIL_SENDING_LEASE_SECONDS)
        since = delivery.sending_since
        if delivery.state == State.SENDING and since is not None and since > now - lease:
            return None  # another worker is in the middle of sending it
        delivery.state = State.SENDING
        delivery.attempts += 1
        delivery.sending_since = now
        delivery.next_attempt_at = None
        delivery.save(update_fields=["state", "attempts", "sending_since", "next_attempt_at"])
        return delivery


def _mark_sent(delivery: Any, attempt: int, refused: Sequence[str] = ()) -> None:
    """Record ``sent`` and drop the rendered mail; retried while the database hiccups, because
    failing here is the one way a mail the relay took can be sent again.

    ``refused``: recipients the relay refused while taking the mail for the others; the mail
    is queued again for them alone, in the same transaction (retried, or failed for the help
    desk to see, like any other mail).
    """
    from .models import MailDelivery

    delivery_id = delivery.pk
    delays = [0.5, 1.0, 2.0, 4.0]
    while True:
        try:
            with transaction.atomic():
                updated = MailDelivery.objects.filter(
                    pk=delivery_id, state=MailDelivery.State.SENDING, attempts=attempt
                ).update(
                    state=MailDelivery.State.SENT,
                    sent_at=timezone.now(),
                    sending_since=None,
                    last_error="",
                    payload=None,
                    raw=None,
                )
                if updated and refused:
                    mail_send_raw(
                        sender=delivery.sender,
                        recipients=list(refused),
                        raw=bytes(delivery.raw),
                        key=f"{delivery.key}:refused:{','.join(refused)}",
                    )
            return
        except Exception:
            if not delays:
                raise
            logger.warning("mail delivery %s: could not record 'sent', retrying", delivery_id)
            connections.close_all()  # a fresh connection at the next try
            time.sleep(delays.pop(0))


def _mark_failed(delivery_id: int, attempt: int, exc: BaseException) -> str:
    from .models import MailDelivery

    State = MailDelivery.State
    error = f"{type(exc).__name__}: {exc}"[:500]
    with transaction.atomic():
        delivery = MailDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None or delivery.state != State.SENDING or delivery.attempts != attempt:
            return "superseded"  # recovered and re-queued meanwhile: the newer attempt decides
        delivery.last_error = error
        delivery.sending_since = None
        if _permanent(exc) or delivery.attempts >= settings.MAIL_MAX_ATTEMPTS:
            delivery.state = State.FAILED
            delivery.failed_at = timezone.now()
            delivery.save(update_fields=["state", "last_error", "sending_since", "failed_at"])
            logger.error(
                "mail %s (%s) failed for good after %d attempts: %s",
                delivery.pk,
                delivery.template,
                delivery.attempts,
                error,
            )
            return "failed"
        delivery.state = State.RETRYING
        delivery.save(update_fields=["state", "last_error", "sending_since"])
        delay = _retry_delay(delivery.attempts)
        _enqueue(delivery, delay=delay)
    logger.warning(
        "mail %s (%s) attempt %d failed, next in %.0f s: %s",
        delivery_id,
        delivery.template,
        attempt,
        delay,
        error,
    )
    return "retrying"


@task(queue_name=MAIL_QUEUE)
def mail_deliver(delivery_id: int) -> str:
    """One attempt at sending one ``MailDelivery`` (the task ``ent worker`` runs).

    Idempotent: a delivery already sent, failed for good, or being sent by a living worker is
    left alone, so running this task twice never sends the mail twice. Returns what happened.
    """
    delivery = _claim(delivery_id)
    if delivery is None:
        return "skipped"
    attempt = delivery.attempts
    refused: list[str] = []
    try:
        if delivery.raw is not None:
            refused = _deliver_raw(delivery)
        elif delivery.payload is not None:
            _deliver_templated(delivery)
        else:
            raise PermanentMailError("nothing left to send (cleared)")
    except Exception as exc:
        logger.warning("mail %s attempt %d: %s", delivery_id, attempt, exc)
        return _mark_failed(delivery_id, attempt, exc)
    if refused:
        logger.warning(
            "mail %s attempt %d: refused for %d recipient(s)", delivery_id, attempt, len(refused)
        )
    _mark_sent(delivery, attempt, refused)
    return "sent"


def mail_queue_recover() -> int:
    """Queue again the deliveries left ``sending`` longer than the lease (their worker died),
    and those still waiting whose task ended or died before claiming them.

    Their old task row stays "running" for ever otherwise; it is marked failed. Returns how many
    deliveries were re-queued. ``ent worker`` runs this at start and then periodically.
    """
    from django_tasks_db.models import DBTaskResult

    from .models import MailDelivery

    now = timezone.now()
    limit = now - timedelta(seconds=settings.MAIL_SENDING_LEASE_SECONDS)
    count = 0
    with transaction.atomic():
        stale = MailDelivery.objects.select_for_update(skip_locked=True).filter(
            state=MailDelivery.State.SENDING, sending_since__lt=limit
        )
        for delivery in stale:
            if delivery.task_id:
                DBTaskResult.objects.filter(status="RUNNING", id=delivery.task_id).update(
                    status="FAILED",
                    finished_at=now,
                    exception_class_path="ent.core.mail.WorkerLost",
                    traceback="the worker stopped while sending (recovered by mail_queue_recover)",
                )
            delivery.state = MailDelivery.State.RETRYING
            delivery.sending_since = None
            delivery.last_error = "worker lost while sending"
            delivery.save(update_fields=["state", "sending_since", "last_error"])
            _enqueue(delivery)
            count += 1
    count += _recover_orphans(limit)
    if count:
        logger.warning("mail queue: %d deliveries of a stopped worker queued again", count)
    return count


def _recover_orphans(limit: Any) -> int:
    """Queue again the deliveries still waiting ("queued"/"retrying") whose task is gone.

    The database failing under ``_claim`` makes django-tasks-db mark the task failed, and a
    worker killed between claiming the task and claiming the delivery leaves the task
    "running": either way nothing would ever run that delivery again (the mail is lost, and
    never "failed" for the help desk to see). A task claimed less than the lease ago is alive.
    """
    from django.db.models import Q
    from django_tasks_db.models import DBTaskResult

    from .models import MailDelivery

    State = MailDelivery.State
    waiting = list(
        MailDelivery.objects.filter(state__in=(State.QUEUED, State.RETRYING)).values_list(
            "pk", "task_id"
        )
    )
    if not waiting:
        return 0
    # Read after the deliveries: a task enqueued before that read is committed with its row.
    alive = {
        str(pk)
        for pk in DBTaskResult.objects.filter(queue_name=MAIL_QUEUE)
        .filter(Q(status="READY") | Q(status="RUNNING", started_at__gte=limit))
        .values_list("id", flat=True)
    }
    count = 0
    for pk, task_id in waiting:
        if task_id in alive:
            continue
        with transaction.atomic():
            delivery = (
                MailDelivery.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, state__in=(State.QUEUED, State.RETRYING), task_id=task_id)
                .first()
            )
            if delivery is None:
                continue  # claimed, sent or queued again meanwhile
            _enqueue(delivery)
            count += 1
    return count


def mail_delivery_retry(*, delivery_id: int) -> Any:
    """Queue a mail that failed for good once more (the help desk's button), with a fresh set of
    attempts. Raises ``ValueError`` when it is not failed or its content was cleared."""
    from .models import MailDelivery

    with transaction.atomic():
        delivery = MailDelivery.objects.select_for_update().get(pk=delivery_id)
        if not delivery.retryable:
            raise ValueError("not a failed mail that can be sent again")
        delivery.state = MailDelivery.State.QUEUED
        delivery.attempts = 0
        delivery.failed_at = None
        delivery.save(update_fields=["state", "attempts", "failed_at"])
        _enqueue(delivery)
    return delivery


def mail_queue_stats() -> tuple[int, float]:
    """(depth, oldest_age_seconds) of the queue: mails not yet sent nor failed for good.

    For ``/readyz`` and ``/metrics``: a growing depth or age means no worker runs or the relay
    refuses. One indexed query.
    """
    from django.db.models import Count

    from .models import MailDelivery

    State = MailDelivery.State
    row = MailDelivery.objects.filter(
        state__in=(State.QUEUED, State.SENDING, State.RETRYING)
    ).aggregate(depth=Count("id"), oldest=Min("created_at"))
    oldest = row["oldest"]
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    return int(row["depth"]), max(age, 0.0)


def mail_worker(*, worker_id: str | None = None, interval: float = 1.0, batch: bool = False) -> Any:
    """django-tasks-db's worker, on the mail queue (``ent worker``, the demo's thread)."""
    from django.utils.crypto import get_random_string
    from django_tasks_db.management.commands.db_worker import Worker

    return Worker(
        queue_names=[MAIL_QUEUE],
        interval=interval,
        batch=batch,
        backend_name=mail_deliver.backend,
        startup_delay=False,
        max_tasks=None,
        worker_id=worker_id or f"ent-{get_random_string(12)}",
        excluded_queue_names=[],
    )


def mail_queue_run(limit: int = 10_000) -> int:
    """Run the ready mail tasks in this process until none is left; returns how many ran.

    The worker's own code path (django-tasks-db's claim under ``select_for_update`` and its
    ``Worker.run_task``) without its loop's connection recycling, so it also runs inside an
    open transaction (tests, and the demo's commit hook). Tasks deferred to later are left.
    """
    from django_tasks_db.models import DBTaskResult
    from django_tasks_db.utils import exclusive_transaction

    worker = mail_worker(batch=True, interval=0)
    ran = 0
    while ran < limit:
        tasks = DBTaskResult.objects.ready().filter(
            backend_name=worker.backend_name, queue_name=MAIL_QUEUE
        )
        with exclusive_transaction(tasks.db):
            result = tasks.get_locked()
            if result is None:
                break
            result.claim(worker.worker_id)
        worker.run_task(result)
        ran += 1
    return ran


class _Recoverer(threading.Thread):
    """Runs ``mail_queue_recover`` every ``period`` seconds beside a worker."""

    def __init__(self, period: float) -> None:
        super().__init__(name="ent-mail-recover", daemon=True)
        self.period = period
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.period):
            try:
                mail_queue_recover()
            except Exception:  # the database may be down for a moment: try at the next period
                logger.exception("mail queue recovery failed")
            finally:
                connections.close_all()


def mail_worker_run(*, worker_id: str | None = None, interval: float = 1.0) -> None:
    """``ent worker``'s body: recover stale sends, then work the queue until stopped.

    SIGTERM / SIGINT (django-tasks-db's handlers) let the mail being sent finish, then exit.
    """
    worker = mail_worker(worker_id=worker_id, interval=interval)
    mail_queue_recover()
    recoverer = _Recoverer(period=max(1.0, settings.MAIL_SENDING_LEASE_SECONDS / 4))
    recoverer.start()
    worker.configure_signals()
    try:
        worker.run()
    finally:
        recoverer.stopping.set()


class MailWorkerThread(threading.Thread):
    """The worker in a daemon thread of this process (``ent demo``, i.e. ``make run``)."""

    def __init__(self, interval: float) -> None:
        super().__init__(name="ent-mail-worker", daemon=True)
        self.worker = mail_worker(interval=interval)

    def run(self) -> None:
        try:
            mail_queue_recover()
            self.worker.run()  # no signal handlers: not the main thread
        finally:
            connections.close_all()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the mail being sent, then stop."""
        self.worker.running = False
        self.join(timeout)


def mail_worker_thread(interval: float = 0.5) -> MailWorkerThread:
    """Start the worker in a daemon thread of this process; ``.stop()`` ends it."""
    thread = MailWorkerThread(interval)
    thread.start()
    return thread


class DemoOutboxBackend(BaseEmailBackend):
    """Keeps every mail in the database for ``/demo/outbox`` (demo mode only)."""

    def send_raw(self, *, sender: str, recipients: list[str], raw: bytes) -> None:
        """Keep an already-built message (``mail_send_raw``): its text part and headers."""
        from .models import OutboxMail

        parsed = message_from_bytes(raw, policy=policy.default)
        text_part = parsed.get_body(preferencelist=("plain",))
        html_part = parsed.get_body(preferencelist=("html",))
        OutboxMail.objects.create(
            from_email=sender,
            to=", ".join(recipients),
            header_from=str(parsed.get("From", "")),
            header_to=str(parsed.get("To", "")),
            subject=str(parsed.get("Subject", ""))[:998],
            body_text=text_part.get_content() if text_part is not None else "",
            body_html=html_part.get_content() if html_part is not None else "",
        )

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """Keep each message (text and HTML parts) as an ``OutboxMail`` row."""
        from .models import OutboxMail

        for message in email_messages:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []):
                if mimetype == "text/html":
                    html = str(content)
            OutboxMail.objects.create(
                from_email=message.from_email,
                to=", ".join(message.recipients()),
                header_from=str(message.extra_headers.get("From", message.from_email)),
                header_to=str(message.extra_headers.get("To", ", ".join(message.to))),
                subject=str(message.subject),
                body_text=str(message.body),
                body_html=html,
            )
        return len(email_messages)
