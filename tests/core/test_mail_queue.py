"""The mail queue's rules, in this process on the real database backend: idempotent sends,
back-off, permanent refusals, recovery of a dead worker's send, raw mails, the demo's worker
thread, and the figures for /readyz and /metrics."""

from __future__ import annotations

import smtplib
import time
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from ent.core.mail import (
    _retry_delay,
    mail_deliver,
    mail_pretend,
    mail_queue_recover,
    mail_queue_run,
    mail_queue_stats,
    mail_send,
    mail_send_raw,
    mail_withdraw,
    mail_worker_thread,
)
from ent.core.models import MailDelivery, OutboxMail
from tests.conftest import SMTPCatcher, free_port

pytestmark = [pytest.mark.django_db, pytest.mark.mail_queue_manual]

CONTEXT = {"full_name": "Ada Lovelace", "link": "http://127.0.0.1:8000/x?code=SECRET", "hours": 48}


def queue_one(to: str = "ada@example.org", **kwargs: Any) -> MailDelivery:
    mail_send(to=to, template="activation", context=CONTEXT, **kwargs)
    return MailDelivery.objects.latest("id")


def test_queued_with_its_task_then_sent_once_and_cleared() -> None:
    delivery = queue_one()
    assert delivery.state == MailDelivery.State.QUEUED and "SECRET" in delivery.payload["body"]
    task = DBTaskResult.objects.get(id=delivery.task_id)
    assert task.args_kwargs == {"args": [delivery.pk], "kwargs": {}} and task.queue_name == "mail"
    assert mail.outbox == []  # nothing leaves before a worker runs
    assert mail_queue_run() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].extra_headers["Message-ID"] == delivery.message_id
    delivery.refresh_from_db()
    assert delivery.state == MailDelivery.State.SENT and delivery.sent_at and delivery.attempts == 1
    assert delivery.payload is None  # the code of the link is not kept once sent
    # The task run again (a duplicate, a replay): nothing more is sent.
    assert mail_deliver.call(delivery.pk) == "skipped"
    assert len(mail.outbox) == 1


def test_a_key_already_queued_is_not_queued_again() -> None:
    queue_one(key="activation:42")
    queue_one(key="activation:42")
    assert MailDelivery.objects.count() == 1
    mail_send_raw(sender="a@example.org", recipients=["b@example.org"], raw=b"x", key="k")
    mail_send_raw(sender="a@example.org", recipients=["b@example.org"], raw=b"x", key="k")
    assert MailDelivery.objects.filter(template="raw").count() == 1


def test_withdraw_takes_only_mails_no_worker_started() -> None:
    """Queued and retrying mails are withdrawn (never sent, content dropped); a mail being
    sent, sent or failed is not; unknown keys and an empty list change nothing."""
    states = {
        "queued": MailDelivery.State.QUEUED,
        "retrying": MailDelivery.State.RETRYING,
        "sending": MailDelivery.State.SENDING,
        "sent": MailDelivery.State.SENT,
        "failed": MailDelivery.State.FAILED,
    }
    for key, state in states.items():
        delivery = queue_one(key=key)
        MailDelivery.objects.filter(pk=delivery.pk).update(
            state=state, sending_since=timezone.now()
        )
    assert mail_withdraw(keys=[]) == 0
    assert mail_withdraw(keys=[*states, "never-queued"]) == 2
    withdrawn = MailDelivery.objects.filter(state=MailDelivery.State.WITHDRAWN)
    assert withdrawn.count() == 2 and all(d.payload is None for d in withdrawn)
    assert MailDelivery.objects.filter(payload__isnull=False).count() == 3
    mail_queue_run()  # every task runs: none of them sends anything
    assert mail.outbox == []


def test_being_sent_by_a_living_worker_is_left_alone(settings: Any) -> None:
    delivery = queue_one()
    MailDelivery.objects.filter(pk=delivery.pk).update(
        state=MailDelivery.State.SENDING, sending_since=timezone.now()
    )
    assert mail_deliver.call(delivery.pk) == "skipped"
    assert mail_queue_recover() == 0  # within the lease
    assert mail.outbox == []


def test_send_of_a_dead_worker_is_queued_again_after_the_lease(settings: Any) -> None:
    delivery = queue_one()
    mail_queue_run_claim_only(delivery)
    settings.MAIL_SENDING_LEASE_SECONDS = 1
    MailDelivery.objects.filter(pk=delivery.pk).update(
        sending_since=timezone.now() - timedelta(seconds=5)
    )
    assert mail_queue_recover() == 1
    old = DBTaskResult.objects.get(id=delivery.task_id)
    assert old.status == "FAILED" and "WorkerLost" in old.exception_class_path
    assert mail_queue_run() == 1
    delivery.refresh_from_db()
    assert delivery.state == MailDelivery.State.SENT and delivery.attempts == 2
    assert [m.extra_headers["Message-ID"] for m in mail.outbox] == [delivery.message_id]


def mail_queue_run_claim_only(delivery: MailDelivery) -> None:
    """What a worker killed during the SMTP conversation leaves: its task claimed ("running"),
    the delivery "sending" with one attempt counted."""
    from ent.core.mail import _claim

    DBTaskResult.objects.filter(id=delivery.task_id).first().claim("dead-worker")  # type: ignore[union-attr]
    assert _claim(delivery.pk) is not None


def test_back_off_doubles_up_to_the_cap(settings: Any) -> None:
    settings.MAIL_RETRY_BASE_SECONDS, settings.MAIL_RETRY_MAX_SECONDS = 60, 3600
    assert [_retry_delay(n) for n in range(1, 9)] == [60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_relay_down_schedules_a_retry_then_fails_for_good(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    settings.MAIL_MAX_ATTEMPTS = 2
    delivery = queue_one()
    before = timezone.now()
    assert mail_queue_run() == 1
    delivery.refresh_from_db()
    assert delivery.state == MailDelivery.State.RETRYING and delivery.attempts == 1
    retry = DBTaskResult.objects.get(id=delivery.task_id)
    assert retry.run_after >= before + timedelta(seconds=59) and retry.priority == -1
    assert mail_queue_run() == 0  # not before its time
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now())
    assert mail_queue_run() == 1
    delivery.refresh_from_db()
    assert delivery.state == MailDelivery.State.FAILED and delivery.attempts == 2
    assert delivery.payload is not None and delivery.retryable


class RefusingRelay(SMTPCatcher):
    """Answers 550 to every recipient: a permanent refusal."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        return "550 5.1.1 no such user"


def test_permanent_refusal_fails_at_once(settings: Any) -> None:
    from aiosmtpd.controller import Controller

    relay = RefusingRelay("127.0.0.1", free_port())
    controller = Controller(relay, hostname=relay.host, port=relay.port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = relay.host, relay.port
        delivery = queue_one(to="nobody@example.org")
        mail_queue_run()
    finally:
        controller.stop()
    delivery.refresh_from_db()
    assert delivery.state == MailDelivery.State.FAILED and delivery.attempts == 1
    assert "550" in delivery.last_error or "Refused" in delivery.last_error


def test_raw_mail_goes_through_smtp_unchanged(smtp_server: SMTPCatcher) -> None:
    raw = (
        b"From: Ada <ada@etudiant.example>\r\nTo: perso@example.org\r\n"
        b"Subject: Transfert\r\nMessage-ID: <orig-1@example.org>\r\n\r\nBonjour\r\n"
    )
    with transaction.atomic():
        mail_send_raw(
            sender="ada@etudiant.example", recipients=["perso@example.org"], raw=raw, key="fwd-1"
        )
    delivery = MailDelivery.objects.get()
    assert delivery.message_id == "<orig-1@example.org>" and delivery.subject == "Transfert"
    mail_queue_run()
    [received] = smtp_server.wait_for(1)
    assert received["Message-ID"] == "<orig-1@example.org>"
    assert smtp_server.envelopes == [("ada@etudiant.example", ["perso@example.org"])]
    delivery.refresh_from_db()
    assert delivery.state == MailDelivery.State.SENT and delivery.raw is None


def test_raw_mail_refuses_line_breaks_in_the_envelope() -> None:
    with pytest.raises(ValueError):
        mail_send_raw(
            sender="a@example.org\r\nX: y", recipients=["b@example.org"], raw=b"", key="k"
        )
    assert not MailDelivery.objects.exists()


def test_pretend_writes_nothing_and_queues_nothing() -> None:
    with transaction.atomic():
        mail_pretend(template="password_reset", context={"link": "x", "minutes": 60})
    assert not MailDelivery.objects.exists() and not DBTaskResult.objects.exists()


def test_queue_stats(settings: Any) -> None:
    assert mail_queue_stats() == (0, 0.0)
    queue_one()
    MailDelivery.objects.update(created_at=timezone.now() - timedelta(seconds=90))
    queue_one(to="b@example.org")
    depth, age = mail_queue_stats()
    assert depth == 2 and 89 <= age < 120
    mail_queue_run()
    assert mail_queue_stats() == (0, 0.0)


@pytest.mark.django_db(transaction=True)
def test_demo_worker_thread_fills_the_outbox(settings: Any) -> None:
    """``make run`` (``ent demo``) runs the worker in a thread: a mail reaches the outbox."""
    settings.EMAIL_BACKEND = "ent.core.mail.DemoOutboxBackend"
    worker = mail_worker_thread(interval=0.1)
    try:
        with transaction.atomic():
            queue_one(to="demo@example.org")
        deadline = time.monotonic() + 15
        while not OutboxMail.objects.filter(to="demo@example.org").exists():
            assert time.monotonic() < deadline, "the demo worker sent nothing"
            time.sleep(0.1)
    finally:
        worker.stop()
    assert not worker.is_alive()
    assert MailDelivery.objects.get().state == MailDelivery.State.SENT


def test_smtp_errors_are_retryable_unless_5xx() -> None:
    from ent.core.mail import _permanent

    assert not _permanent(ConnectionRefusedError())
    assert not _permanent(smtplib.SMTPResponseException(451, b"try later"))
    assert _permanent(smtplib.SMTPResponseException(554, b"no"))
    assert _permanent(smtplib.SMTPRecipientsRefused({"a@b": (550, b"unknown")}))
    assert not _permanent(smtplib.SMTPRecipientsRefused({"a@b": (450, b"busy")}))


def test_a_delivery_whose_task_ended_before_claiming_it_is_queued_again(settings: Any) -> None:
    """The database failed under ``_claim`` (django-tasks-db marks the task failed) or the
    worker died between claiming the task and the delivery: the delivery stays "queued" with
    no task left to run it. Recovery queues it again; a task still alive is left alone."""
    settings.MAIL_SENDING_LEASE_SECONDS = 60
    failed = queue_one(to="failed@example.org")
    DBTaskResult.objects.filter(id=failed.task_id).update(
        status="FAILED", finished_at=timezone.now()
    )
    dead = queue_one(to="dead@example.org")
    DBTaskResult.objects.filter(id=dead.task_id).update(
        status="RUNNING", started_at=timezone.now() - timedelta(seconds=120)
    )
    starting = queue_one(to="starting@example.org")  # its worker is about to claim it
    DBTaskResult.objects.filter(id=starting.task_id).update(
        status="RUNNING", started_at=timezone.now()
    )
    waiting = queue_one(to="waiting@example.org")  # an ordinary ready task
    assert mail_queue_recover() == 2
    assert mail_queue_recover() == 0  # the new tasks are alive
    assert mail_queue_run() == 3  # the two re-queued ones, and the ready one
    sent = sorted(m.to[0] for m in mail.outbox)
    assert sent == ["dead@example.org", "failed@example.org", "waiting@example.org"]
    for delivery in (failed, dead, waiting):
        delivery.refresh_from_db()
        assert delivery.state == MailDelivery.State.SENT and delivery.attempts == 1
    starting.refresh_from_db()
    assert starting.state == MailDelivery.State.QUEUED


class GreylistingRelay(SMTPCatcher):
    """Takes the mail for everyone but ``later@``, told to try again later (450)."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("later@") and not getattr(self, "open", False):
            return "450 4.2.0 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_recipient_refused_for_now_gets_the_raw_mail_later(settings: Any) -> None:
    """smtplib returns the refused recipients of a partly accepted mail instead of raising:
    they must not be dropped while the delivery is recorded "sent"."""
    from aiosmtpd.controller import Controller

    relay = GreylistingRelay("127.0.0.1", free_port())
    controller = Controller(relay, hostname=relay.host, port=relay.port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = relay.host, relay.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        raw = b"From: ada@etudiant.example\r\nSubject: Hi\r\nMessage-ID: <m-1@x>\r\n\r\nHi\r\n"
        with transaction.atomic():
            mail_send_raw(
                sender="ada@etudiant.example",
                recipients=["now@example.org", "later@example.org"],
                raw=raw,
                key="compose-1",
            )
        mail_queue_run()
        assert relay.envelopes == [("ada@etudiant.example", ["now@example.org"])]
        first = MailDelivery.objects.get(to="now@example.org, later@example.org")
        assert first.state == MailDelivery.State.SENT
        rest = MailDelivery.objects.get(to="later@example.org")
        # Tried at once (all refused: 450, so a retry is scheduled), the raw mail kept.
        assert rest.state == MailDelivery.State.RETRYING and bytes(rest.raw) == raw
        relay.open = True  # type: ignore[attr-defined]
        DBTaskResult.objects.filter(id=rest.task_id).update(run_after=timezone.now())
        mail_queue_run()
        relay.wait_for(2)
    finally:
        controller.stop()
    assert relay.envelopes[1] == ("ada@etudiant.example", ["later@example.org"])
    rest.refresh_from_db()
    assert rest.state == MailDelivery.State.SENT
