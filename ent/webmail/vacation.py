"""Courrier › Filtres › Répondeur: the automatic reply while away (Sieve ``vacation``).

Optional in the issue, on the same Filtres page as Transfert. Saving and removing are audited
like every change of the mailbox's filters; no mail is sent (the student is the one who just
did it, and an automatic reply cannot be used to read someone's mail).
"""

from __future__ import annotations

from datetime import date, datetime, time

from django.db import transaction
from django.utils import timezone

from ent.accounts.models import Account
from ent.core.audit import Kind, audit_record

from .backends import MailStore, Vacation, mail_store
from .forwarding import mailbox_of


def vacation_save(
    *,
    account: Account,
    subject: str,
    body: str,
    until: date | None,
    ip: str | None,
    store: MailStore | None = None,
) -> Vacation:
    """Set the automatic reply until the end of ``until`` (local time), or with no end."""
    store = store or mail_store()
    end = (
        timezone.make_aware(datetime.combine(until, time(23, 59, 59)))
        if until is not None
        else None
    )
    reply = Vacation(subject=subject, body=body, until=end)
    with transaction.atomic():
        audit_record(
            kind=Kind.WEBMAIL_VACATION_SET,
            student=account.student,
            actor=account,
            ip=ip,
            until=until.isoformat() if until else "",
        )
        # Last: a store failure rolls the audit record back (see ent.webmail.forwarding).
        store.vacation_set(mailbox_of(account), reply)
    return reply


def vacation_remove(*, account: Account, ip: str | None, store: MailStore | None = None) -> bool:
    """Stop the automatic reply; False when there was none."""
    store = store or mail_store()
    mailbox = mailbox_of(account)
    with transaction.atomic():
        if store.vacation(mailbox) is None:
            return False
        audit_record(
            kind=Kind.WEBMAIL_VACATION_REMOVED, student=account.student, actor=account, ip=ip
        )
        store.vacation_set(mailbox, None)
    return True
