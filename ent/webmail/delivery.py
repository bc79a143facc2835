"""Delivery into the local store: INBOX, the forwarding rule, the automatic reply.

This is what Dovecot's LMTP + Sieve do for the ``dovecot`` backend, for the embedded ``local``
backend; the receiver (``ent mail-receiver``, ``ent.webmail.receiver``) only speaks SMTP/LMTP
and calls ``recipient_known`` and ``message_deliver``.

Choices, and why:

- **Envelope sender of a redirect: the student's institutional address.** Keeping the original
  sender would make the university's relay send mail "from" gmail.com and friends: SPF fails at
  the personal provider and the forward lands in spam or is refused. With the institutional
  address, SPF passes for the university's domain, the From header and body are unchanged (a
  DKIM signature of the original still verifies, so DMARC passes through it), and a bounce
  from the personal provider comes back to the student's own mailbox, where they see that
  their forwarding address fails. Pigeonhole calls this ``sieve_redirect_envelope_from =
  recipient``.
- **A bounce (empty envelope sender) is never redirected, it is kept in the INBOX.** It
  usually says that the forward itself failed; redirecting it to the failing address would
  bounce again, and again.
- **Loops.** Every message that passes through a mailbox gets a ``Delivered-To: <mailbox>``
  header (the convention of Postfix, Exim and Dovecot). A message that already carries this
  mailbox's ``Delivered-To`` has been here before (A forwards to B, B forwards to A): it is kept
  in the INBOX and not redirected again, so nothing is lost and nothing ping-pongs. Beyond
  ``MAX_REDIRECTS`` ``Delivered-To`` headers it is not redirected either, and beyond
  ``MAX_HOPS`` ``Received`` headers it is refused (554 5.4.6), as Postfix does.
- **Automatic reply** (RFC 3834, RFC 5230): at most once per sender per ``VACATION_DAYS``, only
  when the mailbox is in To/Cc, never to a bounce, a mailing list, a bulk mail or another
  automatic message, sent with an empty envelope sender so that it never bounces back.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import hashlib
import logging
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage, Message

from django.db import transaction

from ent.core.mail import mail_send_raw

from .backends.base import Vacation
from .backends.local import INBOX, LocalStore

logger = logging.getLogger(__name__)

MAX_HOPS = 50  # Received headers (Postfix's hopcount_limit)
MAX_REDIRECTS = (
    5  # Delivered-To headers before redirects stop (Pigeonhole's sieve_max_redirects is 4)
)
VACATION_DAYS = 7  # RFC 5230's default :days

# Senders that never get an automatic reply (RFC 3834 § 2 and the usual robot addresses).
_ROBOT_LOCALPARTS = {
    "mailer-daemon",
    "postmaster",
    "listserv",
    "majordomo",
    "noreply",
    "no-reply",
    "donotreply",
    "do-not-reply",
    "ne-pas-repondre",
    "nepasrepondre",
}


class DeliveryRefused(Exception):
    """The message is refused for good; ``reply`` is the SMTP/LMTP answer."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


@dataclass(frozen=True)
class Delivery:
    """What happened to one message for one recipient."""

    uid: str | None  # the INBOX UID, None when not kept (forwarded without a copy)
    redirected_to: str | None
    vacation_replied: bool
    loop: bool = False  # a redirect was due but the message had already been here


def recipient_known(address: str) -> bool:
    """Mail is accepted only for the institutional address of a student with an active account.

    The same answer (550) for an unknown address and for a pending, locked or disabled account:
    the receiver does not tell who exists (it sits behind the university's MTA anyway).
    """
    from django.conf import settings

    from ent.accounts.models import Account
    from ent.directory.models import Student

    address = address.strip().lower()
    localpart, at, domain = address.rpartition("@")
    if not at or not localpart or domain != settings.STUDENT_MAIL_DOMAIN:
        return False
    return Student.objects.filter(
        institutional_email=address, account__state=Account.State.ACTIVE
    ).exists()


def _bare(address: str) -> str:
    return email.utils.parseaddr(address)[1].strip().lower()


def message_deliver(
    *,
    recipient: str,
    mail_from: str,
    raw: bytes,
    peer: str = "",
    protocol: str = "LMTP",
    store: LocalStore | None = None,
) -> Delivery:
    """Deliver ``raw`` to ``recipient``'s INBOX and apply the mailbox's rules.

    ``mail_from`` is the envelope sender ("" for a bounce). Raises ``DeliveryRefused`` for a
    message refused for good, ``MailStoreError``/``OSError`` for a temporary failure (the
    receiver answers 451 and the MTA tries again).
    """
    store = store or LocalStore()
    recipient = recipient.strip().lower()
    mail_from = (mail_from or "").strip()
    if mail_from == "<>":  # aiosmtpd's spelling of the null reverse-path (a bounce)
        mail_from = ""
    head = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    if len(head.get_all("Received") or []) > MAX_HOPS:
        raise DeliveryRefused("554 5.4.6 Too many hops")
    delivered_to = [_bare(value) for value in head.get_all("Delivered-To") or []]

    now = datetime.now(UTC)
    trace = _trace(recipient=recipient, peer=peer, protocol=protocol, now=now)

    rule = store.forwarding(recipient)
    looped = recipient in delivered_to or len(delivered_to) >= MAX_REDIRECTS
    redirect = rule if rule is not None and mail_from and not looped else None
    if rule is not None and looped:
        logger.warning("forwarding loop for %s: message kept, not redirected", recipient)
    keep = redirect is None or redirect.keep_copy

    uid = None
    if keep:
        return_path = f"Return-Path: <{_clean(mail_from)}>\r\n".encode()
        uid = store.add(recipient, INBOX, return_path + trace + raw)
    if redirect is not None:
        digest = hashlib.sha256(raw).hexdigest()[:32]
        with transaction.atomic():
            mail_send_raw(
                sender=recipient,
                recipients=[redirect.address],
                raw=trace + raw,
                key=f"redirect:{recipient}:{redirect.address}:{digest}",
            )
    replied = _vacation_answer(
        store, recipient=recipient, head=head, mail_from=mail_from, raw=raw, now=now
    )
    return Delivery(
        uid=uid,
        redirected_to=redirect.address if redirect else None,
        vacation_replied=replied,
        loop=rule is not None and looped,
    )


def _trace(*, recipient: str, peer: str, protocol: str, now: datetime) -> bytes:
    """The ``Delivered-To`` and ``Received`` headers this delivery adds."""
    return (
        f"Delivered-To: {recipient}\r\n"
        f"Received: from {_clean(peer) or 'unknown'} by {_clean(socket.getfqdn())} (ENT) with"
        f" {protocol} for <{recipient}>; {email.utils.format_datetime(now)}\r\n"
    ).encode()


def _vacation_answer(
    store: LocalStore, *, recipient: str, head: Message, mail_from: str, raw: bytes, now: datetime
) -> bool:
    """Send the mailbox's automatic reply if one is due (once per sender per
    ``VACATION_DAYS``); whether it was sent."""
    vacation = store.vacation(recipient)
    if vacation is None or not _vacation_due(vacation, head, mail_from, recipient, now):
        return False
    sender = _bare(mail_from)
    if not store.vacation_reply_claim(recipient, sender, days=VACATION_DAYS, now=time.time()):
        return False
    with transaction.atomic():
        mail_send_raw(
            sender="",  # RFC 3834 § 3.3: an automatic reply never bounces back
            recipients=[sender],
            raw=_vacation_reply(vacation, head, recipient, sender),
            key=f"vacation:{recipient}:{hashlib.sha256(raw).hexdigest()[:32]}",
        )
    return True


def _clean(value: str) -> str:
    """A value put in a trace header: no line break can be smuggled in."""
    return "".join(ch for ch in value if ch.isprintable() and ch not in "<>")[:200]


def _vacation_due(
    vacation: Vacation, head: Message, mail_from: str, recipient: str, now: datetime
) -> bool:
    """RFC 3834 § 2 and RFC 5230 § 4.5: who must never get an automatic reply."""
    if vacation.until is not None and now > vacation.until:
        return False
    sender = _bare(mail_from)
    localpart = sender.partition("@")[0]
    if not sender or sender == recipient or localpart in _ROBOT_LOCALPARTS:
        return False
    if localpart.startswith("owner-") or localpart.endswith(("-request", "-bounces", "-owner")):
        return False
    auto = str(head.get("Auto-Submitted", "no")).strip().lower()
    if not auto.startswith("no"):
        return False
    if str(head.get("Precedence", "")).strip().lower() in ("bulk", "list", "junk"):
        return False
    if any(name.lower().startswith("list-") for name in head):
        return False
    if head.get("X-Auto-Response-Suppress") or head.get("X-Loop"):
        return False
    addressed = {
        _bare(a)
        for _, a in email.utils.getaddresses(head.get_all("To", []) + head.get_all("Cc", []))
    }
    return recipient in addressed


def _vacation_reply(vacation: Vacation, head: Message, recipient: str, sender: str) -> bytes:
    reply = EmailMessage()
    reply["From"] = recipient
    reply["To"] = sender
    original = str(head.get("Subject", ""))
    reply["Subject"] = vacation.subject or f"Réponse automatique : {original}".strip()
    reply["Date"] = email.utils.format_datetime(datetime.now(UTC))
    reply["Message-ID"] = email.utils.make_msgid(domain=recipient.partition("@")[2])
    reply["Auto-Submitted"] = "auto-replied"
    # Unfolded: a folded header keeps its line break here, which EmailMessage refuses.
    message_id = " ".join(str(head.get("Message-ID", "")).split())
    if message_id:
        reply["In-Reply-To"] = message_id
        reply["References"] = message_id
    reply.set_content(vacation.body)
    return reply.as_bytes(policy=email.policy.SMTP)
