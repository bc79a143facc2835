"""The receiver of the local backend: SMTP or LMTP (aiosmtpd), thin over ``delivery``.

It accepts a recipient only when ``delivery.recipient_known`` says so (550 5.1.1 otherwise),
refuses messages over ``MAIL_RECEIVER_MAX_BYTES`` (552, checked by aiosmtpd while the data
arrives), and delivers each accepted recipient through ``delivery.message_deliver``. Over LMTP
the answer to DATA is one line per recipient (RFC 2033), so one failing mailbox does not make
the MTA deliver again to the others.

Database and disk work runs in worker threads: the event loop keeps answering other
connections while a message is written, and Django's ORM is used from plain threads as it
expects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import connections

from . import delivery

logger = logging.getLogger(__name__)

MAX_RECIPIENTS = 100

T = TypeVar("T")


def _in_thread(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``func`` with the database, then give the thread's connection back: worker threads
    are reused and must not keep connections open (PostgreSQL counts them)."""
    try:
        return func(*args, **kwargs)
    finally:
        connections.close_all()


class ReceiverHandler:
    """aiosmtpd handler: RCPT checks the directory, DATA delivers to each recipient."""

    def __init__(self, *, lmtp: bool) -> None:
        self.lmtp = lmtp

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """Accept the address of an active student of the mail domain; 550 for anything else."""
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        try:
            known = await asyncio.to_thread(_in_thread, delivery.recipient_known, address)
        except Exception:
            logger.exception("recipient check failed for %s", address)
            return "451 4.3.0 Temporary failure, try again later"
        if not known:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Deliver to every recipient; LMTP answers per recipient, SMTP once for all."""
        raw = envelope.original_content or b""
        if isinstance(raw, str):  # pragma: no cover - decode_data is off
            raw = raw.encode("utf-8", "surrogateescape")
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer or "")
        helo = session.host_name or ""
        replies = []
        for recipient in envelope.rcpt_tos:
            try:
                await asyncio.to_thread(
                    _in_thread,
                    delivery.message_deliver,
                    recipient=recipient,
                    mail_from=envelope.mail_from or "",
                    raw=raw,
                    peer=f"{helo} ([{peer}])" if helo else f"[{peer}]",
                    protocol="LMTP" if self.lmtp else "SMTP",
                )
                replies.append(f"250 2.0.0 <{recipient}> delivered")
            except delivery.DeliveryRefused as refused:
                replies.append(refused.reply)
            except Exception:
                logger.exception("delivery to %s failed", recipient)
                replies.append(f"451 4.3.0 <{recipient}> temporary failure, try again later")
        if self.lmtp:
            return "\r\n".join(replies)
        # SMTP has one answer: any temporary failure makes the MTA try again for everyone
        # (a duplicate is better than a lost message); otherwise the first refusal, or 250.
        for prefix in ("4", "5"):
            for reply in replies:
                if reply.startswith(prefix):
                    return reply
        return "250 2.0.0 OK"


class ReceiverController(Controller):
    """aiosmtpd's threaded controller, speaking LMTP instead of SMTP when asked."""

    def __init__(self, handler: ReceiverHandler, **kwargs: Any) -> None:
        self.lmtp = handler.lmtp
        super().__init__(handler, **kwargs)

    def factory(self) -> SMTP:
        """The protocol object for a new connection."""
        server_class = LMTP if self.lmtp else SMTP
        return server_class(self.handler, **self.SMTP_kwargs)


def receiver_controller(
    *, host: str | None = None, port: int | None = None, protocol: str | None = None
) -> ReceiverController:
    """The receiver, not started (``.start()`` runs it in a thread, ``.stop()`` ends it)."""
    # aiosmtpd logs every connection at INFO ("Peer", "handling connection"): noise in the log
    # of a mail server; its warnings and errors still show.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    protocol = (protocol or settings.MAIL_RECEIVER_PROTOCOL).lower()
    if protocol not in ("smtp", "lmtp"):
        raise ValueError(f"protocol must be smtp or lmtp, not {protocol!r}")
    return ReceiverController(
        ReceiverHandler(lmtp=protocol == "lmtp"),
        hostname=host or settings.MAIL_RECEIVER_HOST,
        port=port if port is not None else settings.MAIL_RECEIVER_PORT,
        data_size_limit=settings.MAIL_RECEIVER_MAX_BYTES,
        # Mail is stored byte for byte: aiosmtpd must not decode it.
        decode_data=False,
        ident="ENT mail receiver",
    )
