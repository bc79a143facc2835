"""Courrier › Filtres › Transfert, top to bottom (the guide's last part).

"Renseigner votre adresse personnelle et garder une copie des messages dans ce compte puis
Enregistrer":

1. ``forwarding_state``: what the page shows — the rule in force (read from the mail store),
   the rule waiting for its link, and the verified personal address the form is prefilled with.
2. ``forwarding_address_check``: refuses a malformed address, the student's own institutional
   address, and an address of the university's mail domain whose mailbox forwards back here
   (following the chain a few hops through the store): a loop would bounce every message.
3. ``forwarding_set``: the **verified personal address** is used at once. **Any other address**
   is used only after the link mailed to it is followed (``forwarding_verify_confirm``): a
   single-use, expiring, hashed code (``ent.core.codes``, purpose FORWARD_VERIFY; a newer
   request revokes it) with the rule (address, keep a copy) waiting in ``PendingForwarding``.
   The Transfert form asks for the password again before a link goes to an unverified address.
4. ``forwarding_remove``: stops forwarding (and drops a rule still waiting for its link).

Why the notifications: setting a forward is the classic way to keep reading a mailbox after
stealing its password. Every change is audited and mailed to the verified personal address,
and to the previous forwarding address when it changes, so the student learns of it even if
the thief reads the institutional mailbox.

What follows other account changes (decided here, done elsewhere):

- A personal-address change (``ent.accounts.email_change``) does not move the forward: the rule
  points at an address whose owner proved it (as the personal address then, or by a link), and
  the student may well want both. The Transfert page says when the forward no longer goes to
  the current personal address.
- Locking or disabling the account revokes every open code (``ent.helpdesk.services``), so a
  waiting rule can no longer be confirmed, and ``forwarding_verify_confirm`` refuses an inactive
  account. A rule in force stays (the mailbox keeps receiving mail and the help desk's student
  page shows where it goes); removing it is the help desk's decision when it locks a
  compromised account, not an automatic side effect.

The mail store is not transactional: each service changes the store last, inside the database
transaction, so a store failure rolls back the audit record and the queued mails (and leaves a
code unused), and a rule is never in force without its audit record being written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import transaction
from django.utils.translation import gettext as _

from ent.accounts.models import Account
from ent.core import clock
from ent.core.audit import Kind, audit_record
from ent.core.codes import (
    CodeStatus,
    code_check,
    code_consume,
    code_issue,
    link_cap_reached,
    link_mail,
)
from ent.core.mail import mail_send
from ent.core.messages import mask_email
from ent.core.models import OneTimeCode
from ent.directory.models import Student

from .backends import Forwarding, MailStore, mail_store
from .models import PendingForwarding

# How far a chain of forwards inside the university is followed to find a loop. Dovecot's
# Pigeonhole redirects at most 4 times (``sieve_max_redirects``): a longer chain would not
# deliver anyway, so it is refused like a loop.
MAX_HOPS = 5


class TooManyRequestsError(Exception):
    """The student asked for too many verification links in the last hour."""


@dataclass(frozen=True)
class PendingRule:
    """A rule waiting for the link mailed to its address."""

    address: str
    keep_copy: bool
    expires_at: datetime


@dataclass(frozen=True)
class ForwardingState:
    """What the Transfert page shows."""

    rule: Forwarding | None  # in force, read from the mail store
    pending: PendingRule | None
    personal_email: str  # the verified personal address, "" when there is none
    mailbox: str  # the institutional address

    @property
    def to_personal(self) -> bool:
        """Whether the rule in force goes to the verified personal address."""
        return bool(
            self.rule and self.personal_email and _same(self.rule.address, self.personal_email)
        )


def _same(a: str, b: str) -> bool:
    # Mail providers treat the local part without case; the domain never has one.
    return a.casefold() == b.casefold()


def verified_personal_email(account: Account) -> str:
    """The personal address, if the student proved they read it (activation or change link)."""
    if account.personal_email and account.personal_email_verified_at is not None:
        return account.personal_email
    return ""


def mailbox_of(account: Account) -> str:
    """The student's mailbox: their institutional address."""
    assert account.student is not None
    return account.student.institutional_email


def _pending_row(account: Account) -> PendingForwarding | None:
    return (
        PendingForwarding.objects.select_related("code")
        .filter(
            code__account=account,
            code__purpose=OneTimeCode.Purpose.FORWARD_VERIFY,
            code__used_at__isnull=True,
            code__revoked_at__isnull=True,
            code__expires_at__gt=clock.now(),
        )
        .order_by("-code__created_at")
        .first()
    )


def forwarding_state(*, account: Account, store: MailStore | None = None) -> ForwardingState:
    """The rule in force, the one waiting for its link, and the prefill. May raise
    ``MailStoreError``."""
    store = store or mail_store()
    mailbox = mailbox_of(account)
    row = _pending_row(account)
    pending = (
        PendingRule(address=row.address, keep_copy=row.keep_copy, expires_at=row.code.expires_at)
        if row is not None
        else None
    )
    return ForwardingState(
        rule=store.forwarding(mailbox),
        pending=pending,
        personal_email=verified_personal_email(account),
        mailbox=mailbox,
    )


# --- Which addresses are accepted ------------------------------------------------------------


def normalise_address(raw: str) -> str:
    """Spaces removed, the domain in lower case; ``ValidationError`` if it is no address.

    The same check and message as the activation form's personal address.
    """
    address = "".join(raw.split())
    try:
        EmailValidator()(address)
    except ValidationError:
        raise ValidationError(
            _("Adresse mail invalide : elle doit avoir la forme nom@exemple.fr.")
        ) from None
    local, _at, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def _in_university_domain(address: str) -> bool:
    domain = address.rpartition("@")[2].lower()
    student_domain = settings.STUDENT_MAIL_DOMAIN
    return domain == student_domain or domain.endswith("." + student_domain)


def _mailbox_address(address: str) -> str:
    """The mailbox a university address delivers to: lower case, without a ``+tag``
    (``prenom.nom+ent@…`` lands in ``prenom.nom@…``)."""
    local, _at, domain = address.casefold().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def _loops_back(*, store: MailStore, mailbox: str, address: str) -> bool:
    """Whether forwarding ``mailbox`` to ``address`` would send mail round in a circle.

    Follows the forwards of university mailboxes (read from the store) from ``address``: a
    chain that comes back to ``mailbox`` or to a mailbox already seen, or that is longer than
    ``MAX_HOPS``, is a loop. An address outside the university, or of no known mailbox, ends
    the chain.
    """
    seen = {mailbox.casefold()}
    current = address
    for _hop in range(MAX_HOPS):
        if not _in_university_domain(current):
            return False
        target = _mailbox_address(current)
        if target in seen:
            return True
        name = (
            Student.objects.filter(institutional_email__iexact=target)
            .values_list("institutional_email", flat=True)
            .first()
        )
        if name is None:
            return False
        seen.add(target)
        rule = store.forwarding(name)
        if rule is None:
            return False
        current = rule.address
    return True


def forwarding_address_check(
    *, account: Account, address: str, store: MailStore | None = None
) -> str:
    """The normalised address, or ``ValidationError`` with the reason (French, translated).

    May raise ``MailStoreError`` when a university mailbox's rule cannot be read.
    """
    address = normalise_address(address)
    mailbox = mailbox_of(account)
    if _in_university_domain(address) and _mailbox_address(address) == mailbox.casefold():
        raise ValidationError(
            _(
                "C'est votre adresse de l'université : les messages y reviendraient sans fin."
                " Donnez une autre adresse, par exemple votre adresse personnelle."
            )
        )
    if _loops_back(store=store or mail_store(), mailbox=mailbox, address=address):
        raise ValidationError(
            _(
                "Cette adresse de l'université transfère déjà ses messages vers votre compte"
                " (directement ou par d'autres adresses) : les messages tourneraient en boucle."
            )
        )
    return address


def needs_verification(*, account: Account, address: str) -> bool:
    """Whether a link must be followed before mail goes to ``address``."""
    personal = verified_personal_email(account)
    return not (personal and _same(address, personal))


# --- Setting and removing ---------------------------------------------------------------------


class SetOutcome(Enum):
    """What ``forwarding_set`` did."""

    SET = "set"  # in force now (the verified personal address)
    VERIFY_SENT = "verify_sent"  # a link went to the address; nothing changed yet


def _lock(account: Account) -> Account:
    return (
        Account.objects.select_for_update(of=("self",)).select_related("student").get(pk=account.pk)
    )


def _revoke_pending(account: Account) -> None:
    OneTimeCode.objects.filter(
        account=account,
        purpose=OneTimeCode.Purpose.FORWARD_VERIFY,
        used_at__isnull=True,
        revoked_at__isnull=True,
    ).update(revoked_at=clock.now())


def _notify(
    *, account: Account, old: Forwarding | None, new: Forwarding | None, ip: str | None
) -> None:
    """Tell the verified personal address, and the previous forwarding address when it
    changes (it may be the only mailbox the student still reads)."""
    context = {
        "full_name": account.display_name,
        "username": account.username,
        "mailbox": mailbox_of(account),
        "address": mask_email(new.address) if new else "",
        "keep_copy": bool(new and new.keep_copy),
        "enabled": new is not None,
        "when": clock.now(),
        "ip": ip or "",
    }
    recipients: list[str] = []
    personal = verified_personal_email(account)
    if personal:
        recipients.append(personal)
    if (
        old is not None
        and not (new is not None and _same(old.address, new.address))
        and not any(_same(old.address, r) for r in recipients)
        # A university mailbox learns nothing it needs; the student's own is never a target.
        and not _in_university_domain(old.address)
    ):
        recipients.append(old.address)
    for to in recipients:
        mail_send(to=to, template="forwarding_changed", context=context)


def _apply(
    *, account: Account, rule: Forwarding, ip: str | None, store: MailStore, verified_by: str
) -> None:
    """Put ``rule`` in force: audit, notifications, then the store (last, see the module)."""
    mailbox = mailbox_of(account)
    old = store.forwarding(mailbox)
    _revoke_pending(account)
    audit_record(
        kind=Kind.WEBMAIL_FORWARDING_SET,
        student=account.student,
        actor=account,
        ip=ip,
        address=mask_email(rule.address),
        keep_copy=rule.keep_copy,
        previous=mask_email(old.address) if old else "",
        verified_by=verified_by,
    )
    _notify(account=account, old=old, new=rule, ip=ip)
    # The directory's mailForwardingAddress follows (ent.directory.queue, same transaction).
    account.forwarding_address = rule.address
    account.save(update_fields=["forwarding_address"])
    store.forwarding_set(mailbox, rule)


def forwarding_set(
    *,
    account: Account,
    address: str,
    keep_copy: bool,
    ip: str | None,
    store: MailStore | None = None,
) -> SetOutcome:
    """Forward the student's mail to ``address``, keeping a copy or not.

    The verified personal address is used at once; any other address gets a verification link
    and nothing changes until it is followed. Raises ``ValidationError`` for an address that
    cannot be used (``forwarding_address_check``), ``TooManyRequestsError`` after
    ``FORWARD_VERIFY_LINKS_PER_HOUR`` links in an hour (each goes to an address the student
    typed: without a limit the form would mail anyone, over and over), ``MailStoreError`` when the store is unreachable.
    The caller (the view) has checked the password before an unverified address.
    """
    store = store or mail_store()
    with transaction.atomic():
        account = _lock(account)
        address = forwarding_address_check(account=account, address=address, store=store)
        if not needs_verification(account=account, address=address):
            rule = Forwarding(address=verified_personal_email(account), keep_copy=keep_copy)
            _apply(account=account, rule=rule, ip=ip, store=store, verified_by="personal_email")
            return SetOutcome.SET
        if link_cap_reached(account=account, purpose=OneTimeCode.Purpose.FORWARD_VERIFY):
            raise TooManyRequestsError
        row, code = code_issue(
            purpose=OneTimeCode.Purpose.FORWARD_VERIFY, account=account, email=address
        )
        PendingForwarding.objects.create(code=row, address=address, keep_copy=keep_copy)
        audit_record(
            kind=Kind.WEBMAIL_FORWARDING_VERIFY_SENT,
            student=account.student,
            actor=account,
            ip=ip,
            address=mask_email(address),
            keep_copy=keep_copy,
        )
        link_mail(
            row,
            code,
            to=address,
            context={
                "full_name": account.display_name,
                "mailbox": mailbox_of(account),
                "keep_copy": keep_copy,
            },
        )
    return SetOutcome.VERIFY_SENT


def forwarding_remove(*, account: Account, ip: str | None, store: MailStore | None = None) -> bool:
    """Stop forwarding, and drop a rule waiting for its link; False when there was neither."""
    store = store or mail_store()
    with transaction.atomic():
        account = _lock(account)
        mailbox = mailbox_of(account)
        old = store.forwarding(mailbox)
        had_pending = _pending_row(account) is not None
        _revoke_pending(account)
        if old is None:
            return had_pending
        audit_record(
            kind=Kind.WEBMAIL_FORWARDING_REMOVED,
            student=account.student,
            actor=account,
            ip=ip,
            previous=mask_email(old.address),
        )
        _notify(account=account, old=old, new=None, ip=ip)
        account.forwarding_address = ""
        account.save(update_fields=["forwarding_address"])
        store.forwarding_set(mailbox, None)
    return True


# --- The link mailed to a new forwarding address -----------------------------------------------


def forwarding_verify_pending(code: str, *, ip: str | None) -> PendingRule | CodeStatus:
    """The rule the link would put in force (for the page with the button), or why not.

    Throttled per client address like the confirmation (``code_check``).
    """
    status, row = code_check(purpose=OneTimeCode.Purpose.FORWARD_VERIFY, code=code, ip=ip)
    if status is not CodeStatus.VALID or row is None:
        return status
    pending = PendingForwarding.objects.filter(code=row).first()
    if pending is None:
        return CodeStatus.UNKNOWN
    return PendingRule(
        address=pending.address, keep_copy=pending.keep_copy, expires_at=row.expires_at
    )


def forwarding_verify_confirm(
    *, code: str, ip: str | None, store: MailStore | None = None
) -> CodeStatus:
    """Put the waiting rule in force, once. May raise ``MailStoreError`` (the code stays
    usable: nothing is committed)."""
    status, row = code_check(
        purpose=OneTimeCode.Purpose.FORWARD_VERIFY,
        code=code,
        ip=ip,
        rejected_kind=Kind.WEBMAIL_FORWARDING_CODE_REJECTED,
    )
    if status is not CodeStatus.VALID or row is None:
        return status
    store = store or mail_store()
    with transaction.atomic():
        account = _lock(row.account)
        # Checked under the row lock: a lock by the help desk may have just committed.
        if account.state != Account.State.ACTIVE:
            return CodeStatus.INACTIVE
        pending = PendingForwarding.objects.filter(code=row).first()
        if pending is None:
            return CodeStatus.UNKNOWN
        try:
            # Another mailbox may have started forwarding here since the link was sent.
            address = forwarding_address_check(
                account=account, address=pending.address, store=store
            )
        except ValidationError:
            return CodeStatus.REFUSED
        if not code_consume(row):
            return CodeStatus.USED
        rule = Forwarding(address=address, keep_copy=pending.keep_copy)
        _apply(account=account, rule=rule, ip=ip, store=store, verified_by="link")
    return CodeStatus.DONE
