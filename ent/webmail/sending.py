"""Writing from the webmail: a new message, a reply, a reply to all, a forward.

The journey top to bottom: a ``Draft`` (what the student typed, checked by
``forms.ComposeForm``), ``message_build`` (an ``email.message.EmailMessage``: the library
refuses CR/LF in a header, a second wall after the form), then ``webmail_send``: the hourly
limits, the audit record (never the content), the SMTP hand-over after commit through
``mail_send_raw`` and the copy in "Envoyés", all in one transaction.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from django.db import transaction

from ent.accounts.models import Account
from ent.core import clock, throttle
from ent.core.audit import Kind, audit_record
from ent.core.mail import mail_send_raw

from .backends import FolderRole, MailStore, MailStoreError

# Replies keep this many ancestors in References (RFC 5322 allows trimming the middle).
MAX_REFERENCES = 20


@dataclass(frozen=True)
class Upload:
    """A file the student attached."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class Draft:
    """A message ready to send: addresses are (display name, address) pairs, already valid."""

    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    subject: str
    body: str
    attachments: list[Upload] = field(default_factory=list)
    in_reply_to: str = ""
    references: str = ""
    forwarded: bytes | None = None  # the original message, attached as message/rfc822

    @property
    def recipients(self) -> list[str]:
        """The envelope recipients, each once, in order."""
        seen: dict[str, str] = {}
        for _name, address in [*self.to, *self.cc]:
            seen.setdefault(address.lower(), address)
        return list(seen.values())


class SendThrottledError(Exception):
    """The account sent too many messages or to too many recipients this hour."""

    def __init__(self, retry_at: datetime) -> None:
        super().__init__(retry_at)
        self.retry_at = retry_at


def address(name: str, addr: str) -> Address:
    """An ``Address`` from a display name and an address (raises ValueError if malformed)."""
    local, _at, domain = addr.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def message_build(*, account: Account, draft: Draft) -> EmailMessage:
    """The message as it leaves: From is the student's institutional address and name."""
    student = account.student
    assert student is not None
    message = EmailMessage(policy=policy.default)
    message["From"] = address(student.full_name, student.institutional_email)
    message["To"] = [address(n, a) for n, a in draft.to]
    if draft.cc:
        message["Cc"] = [address(n, a) for n, a in draft.cc]
    message["Subject"] = draft.subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=student.institutional_email.rpartition("@")[2])
    if draft.in_reply_to:
        message["In-Reply-To"] = draft.in_reply_to
        ids = [*draft.references.split(), draft.in_reply_to]
        message["References"] = " ".join(ids[:1] + ids[1:][-(MAX_REFERENCES - 1) :])
    message.set_content(draft.body or "\n")
    for upload in draft.attachments:
        guessed, _encoding = mimetypes.guess_type(upload.filename)
        maintype, _slash, subtype = (guessed or "application/octet-stream").partition("/")
        if maintype in {"multipart", "message"}:
            maintype, subtype = "application", "octet-stream"
        message.add_attachment(
            upload.content, maintype=maintype, subtype=subtype, filename=upload.filename
        )
    if draft.forwarded is not None:
        _attach_original(message, draft.forwarded)
    return message


def _attach_original(message: EmailMessage, raw: bytes) -> None:
    """Attach the forwarded message whole (its attachments travel with it)."""
    try:
        original = message_from_bytes(raw, policy=policy.default)
        original.as_bytes()  # a message the library cannot write back goes as a plain file
        message.add_attachment(original, filename="message.eml")
    except (ValueError, TypeError, LookupError, UnicodeError, RecursionError):
        # (RecursionError: multiparts nested too deep for the email package.)
        message.add_attachment(
            raw, maintype="application", subtype="octet-stream", filename="message.eml"
        )


def sent_folder(store: MailStore, mailbox: str) -> str:
    """The name of the mailbox's "Envoyés" folder."""
    for folder in store.folders(mailbox):
        if folder.role == FolderRole.SENT:
            return folder.name
    raise MailStoreError("no sent folder")


def _check_limits(key: str, recipients: int) -> None:
    now = clock.now()
    for action, needed in (("webmail-send", 1), ("webmail-recipients", recipients)):
        blocked = throttle.blocked(action, key)
        if blocked is not None:
            raise SendThrottledError(blocked)
        policy_ = throttle.policy(action)
        if throttle.remaining(policy_, key) < needed:
            raise SendThrottledError(now + policy_.window)


def webmail_send(*, account: Account, draft: Draft, store: MailStore, ip: str | None) -> str:
    """Send ``draft`` from the student's institutional address; returns its Message-ID.

    Raises ``SendThrottledError`` past the hourly limits and ``MailStoreError`` when the copy
    cannot be stored in "Envoyés" (then nothing is sent: the transaction rolls back, and with
    it the SMTP hand-over queued for after commit).
    """
    student = account.student
    assert student is not None
    key = str(account.pk)
    recipients = draft.recipients
    try:
        _check_limits(key, len(recipients))
    except SendThrottledError:
        audit_record(
            kind=Kind.WEBMAIL_SEND_THROTTLED,
            student=student,
            actor=account,
            ip=ip,
            recipients=len(recipients),
        )
        raise
    message = message_build(account=account, draft=draft)
    raw = message.as_bytes(policy=policy.SMTP)
    message_id = str(message["Message-ID"])
    mailbox = student.institutional_email
    folder = sent_folder(store, mailbox)
    with transaction.atomic():
        throttle.failed("webmail-send", key)
        throttle.failed("webmail-recipients", key, weight=len(recipients))
        # Who sent what to how many, never the addresses' content or the text.
        audit_record(
            kind=Kind.WEBMAIL_MESSAGE_SENT,
            student=student,
            actor=account,
            ip=ip,
            message_id=message_id,
            recipients=len(recipients),
            attachments=len(draft.attachments) + (draft.forwarded is not None),
            size=len(raw),
            reply=bool(draft.in_reply_to),
            forward=draft.forwarded is not None,
        )
        mail_send_raw(sender=mailbox, recipients=recipients, raw=raw, key=message_id)
        store.append(mailbox, folder, raw, read=True)
    return message_id
