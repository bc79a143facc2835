"""Outgoing mail: templated text + HTML messages, sent once the transaction commits.

Templates live in ``templates/mail/<name>.txt`` (body), ``<name>.html`` (HTML alternative) and
``<name>_subject.txt``. In demo mode the ``DemoOutboxBackend`` keeps mails in the database,
readable at ``/demo/outbox``.
"""

from __future__ import annotations

import logging
import smtplib
import threading
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


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


def _record_failure(*, to: str, template: str, subject: str, error: Exception) -> None:
    """Keep a row for the help-desk dashboard; a failure to record must not raise either."""
    from . import clock
    from .models import MailFailure

    try:
        MailFailure.objects.create(
            at=clock.now(),
            to=to[:254],
            template=template[:64],
            subject=subject[:998],
            error=f"{type(error).__name__}: {error}"[:500],
        )
    except Exception:  # the database may be the thing that is down
        logger.exception("mail failure of %s could not be recorded", template)


def mail_send(*, to: str, template: str, context: dict[str, Any], background: bool = False) -> None:
    """Render now, send after the current transaction commits (never for a rolled-back one).

    A relay that refuses or is down is logged, not raised: the change that caused the mail is
    already committed and the pages that send mail offer to send it again.

    ``background=True`` hands the SMTP conversation to a thread, so the time the relay takes
    does not show in the response: pages that must answer in the same time whether or not a
    mail left (password reset: no account enumeration by timing) use it.
    """
    message = _build(to=to, template=template, context=context)

    def _send() -> None:
        try:
            message.send()
        except (smtplib.SMTPException, OSError) as exc:
            logger.exception("mail %s could not be sent", template)
            _record_failure(to=to, template=template, subject=str(message.subject), error=exc)

    def _send_in_thread() -> None:
        thread = threading.Thread(target=_send_and_close, args=(_send,), daemon=True)
        with _background_lock:
            _background.append(thread)
        thread.start()

    transaction.on_commit(_send_in_thread if background else _send)


def mail_send_raw(*, sender: str, recipients: list[str], raw: bytes, key: str) -> None:
    """Send an already-built message (forwarded mail, a student's webmail message) after commit.

    ``sender`` is the envelope sender (MAIL FROM), ``recipients`` the envelope recipients (RCPT
    TO), ``raw`` the RFC 5322 bytes sent unchanged. ``key`` identifies this sending (e.g. the
    Message-ID and the recipient of a forward) so that the mail queue never sends it twice.
    """

    def _send() -> None:
        from django.core.mail import get_connection

        connection = get_connection()
        try:
            if isinstance(connection, DemoOutboxBackend):
                connection.send_raw(sender=sender, recipients=recipients, raw=raw)
                return
            host, port = settings.EMAIL_HOST, settings.EMAIL_PORT
            timeout = settings.EMAIL_TIMEOUT
            smtp_class = smtplib.SMTP_SSL if settings.EMAIL_USE_SSL else smtplib.SMTP
            with smtp_class(host, port, timeout=timeout) as smtp:
                if settings.EMAIL_USE_TLS:
                    smtp.starttls()
                if settings.EMAIL_HOST_USER:
                    smtp.login(settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD)
                smtp.sendmail(sender, recipients, raw)
        except (smtplib.SMTPException, OSError) as exc:
            logger.exception("raw mail %s could not be sent", key)
            _record_failure(to=", ".join(recipients), template="raw", subject=key, error=exc)

    transaction.on_commit(_send)


# --- Mail sent from a thread (see ``background`` above) -------------------------------------

_background: list[threading.Thread] = []
_background_lock = threading.Lock()


def _send_and_close(send: Any) -> None:
    from django.db import connections

    try:
        send()
    finally:
        # The demo outbox writes to the database from this thread: free its connection.
        connections.close_all()


def mail_background_wait(timeout: float = 10.0) -> None:
    """Wait for the mails handed to threads so far (tests, and a clean shutdown)."""
    with _background_lock:
        threads = list(_background)
        _background.clear()
    for thread in threads:
        thread.join(timeout)


class DemoOutboxBackend(BaseEmailBackend):
    """Keeps every mail in the database for ``/demo/outbox`` (demo mode only)."""

    def send_raw(self, *, sender: str, recipients: list[str], raw: bytes) -> None:
        """Keep an already-built message (``mail_send_raw``): its text part and headers."""
        from email import message_from_bytes, policy

        from .models import OutboxMail

        parsed = message_from_bytes(raw, policy=policy.default)
        text_part = parsed.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
        html_part = parsed.get_body(preferencelist=("html",))  # type: ignore[attr-defined]
        OutboxMail.objects.create(
            from_email=sender,
            to=", ".join(recipients),
            subject=str(parsed.get("Subject", ""))[:998],
            body_text=text_part.get_content() if text_part is not None else "",
            body_html=html_part.get_content() if html_part is not None else "",
        )

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        from .models import OutboxMail

        for message in email_messages:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []):
                if mimetype == "text/html":
                    html = str(content)
            OutboxMail.objects.create(
                from_email=message.from_email,
                to=", ".join(message.to),
                subject=str(message.subject),
                body_text=str(message.body),
                body_html=html,
            )
        return len(email_messages)
