"""Test mails for the webmail tests: real RFC 5322 messages with unique Message-IDs.

Pigeonhole (Dovecot's Sieve) silently drops a second redirect of the same Message-ID, and the
mail queue never sends one key twice, so every test mail gets its own Message-ID.
"""

from __future__ import annotations

import email.policy
import itertools
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

_sequence = itertools.count(1)


def make_mail(
    *,
    to: str,
    sender: str = "Alice Martin <alice.martin@example.org>",
    subject: str = "Bonjour",
    body: str = "Bonjour,\n\nCeci est un message de test.\n",
    date: datetime | None = None,
    headers: dict[str, str] | None = None,
    attachment: tuple[str, bytes] | None = None,
) -> bytes:
    """The bytes of one message, CRLF line ends, as an MTA hands it over."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = make_msgid(idstring=f"ent-test-{next(_sequence)}", domain="example.org")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if attachment is not None:
        filename, data = attachment
        message.add_attachment(
            data, maintype="application", subtype="octet-stream", filename=filename
        )
    return message.as_bytes(policy=email.policy.SMTP)


def quick_mail(*, to: str, sender: str, subject: str, n: int) -> bytes:
    """A plain ASCII message built by formatting (a hundred times faster than ``make_mail``),
    for filling large folders."""
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: Mon, 02 Nov 2026 09:30:00 +0100\r\n"
        f"Message-ID: <ent-quick-{n}-{next(_sequence)}@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Message de test numero {n}.\r\n"
    ).encode()
