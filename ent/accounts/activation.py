"""The activation journey ("Activer mon compte"), top to bottom.

1. Student number + INE: ``identity.student_identify`` (purpose ``ACTIVATION``).
2. ``activation_start``: personal address, new password, IT charter; mails a link.
   ``activation_resend`` mails a fresh link (throttled); starting again revokes the old code.
3. ``activation_confirm``: the POST behind the mailed link activates the account once.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ent.core import clock, metrics
from ent.core.audit import Kind, audit_record
from ent.core.codes import (
    CodeStatus,
    code_check,
    code_consume,
    code_issue,
    code_lookup,
    link_cap_reached,
    link_mail,
)
from ent.core.models import OneTimeCode
from ent.directory.models import Student

from . import password_policy
from .lifecycle import TransitionError, account_activate
from .models import Account


class AlreadyActiveError(Exception):
    """The account was activated meanwhile (another tab, another device)."""


def _mail_activation(*, account: Account, student: Student, row: OneTimeCode, code: str) -> None:
    link_mail(row, code, to=account.personal_email, context={"full_name": student.full_name})


def activation_start(
    *,
    student: Student,
    email: str,
    password: str,
    charter_accepted: bool,
    ip: str | None,
) -> Account:
    """Step 2: record the address, password and charter, and mail the activation link.

    The account stays *pending* (no sign-in) until the link is followed. Starting again, with
    the same or another address, revokes the previous link.
    """
    if not charter_accepted:
        raise ValidationError("charter not accepted")
    problems = password_policy.check(password, personal=password_policy.personal_data_of(student))
    if problems:
        raise ValidationError(problems)
    try:
        return _activation_start(student=student, email=email, password=password, ip=ip)
    except IntegrityError:
        # Two submissions at once (double tap, two tabs) both tried to create the account:
        # the other one won, and this one now updates it, as a restart would.
        return _activation_start(student=student, email=email, password=password, ip=ip)


def _activation_start(*, student: Student, email: str, password: str, ip: str | None) -> Account:
    now = clock.now()
    with transaction.atomic():
        account = Account.objects.select_for_update().filter(student=student).first()
        if account is None:
            account = Account(
                username=student.student_number, kind=Account.Kind.STUDENT, student=student
            )
        elif account.state != Account.State.PENDING:
            raise AlreadyActiveError
        account.state = Account.State.PENDING
        account.personal_email = email
        account.personal_email_verified_at = None
        account.charter_version = settings.CHARTER_VERSION
        account.charter_accepted_at = now
        account.set_password(password)
        account.save()
        row, code = code_issue(
            purpose=OneTimeCode.Purpose.ACTIVATION,
            account=account,
            email=email,
        )
        audit_record(
            kind=Kind.ACTIVATION_STARTED,
            student=student,
            ip=ip,
            charter_version=settings.CHARTER_VERSION,
        )
        _mail_activation(account=account, student=student, row=row, code=code)
    metrics.ACTIVATIONS.labels(step="started").inc()
    return account


class ResendRefusedError(Exception):
    """Too many links sent in the last hour."""


def activation_resend(*, account: Account, ip: str | None) -> None:
    """Mail a fresh link to the same address (the previous link stops working)."""
    if account.state != Account.State.PENDING or account.student is None:
        raise AlreadyActiveError
    with transaction.atomic():
        Account.objects.select_for_update().filter(pk=account.pk).first()
        # The cap (ACTIVATION_RESEND_PER_HOUR) counts resends: the first link is not one.
        if link_cap_reached(account=account, purpose=OneTimeCode.Purpose.ACTIVATION):
            raise ResendRefusedError
        row, code = code_issue(
            purpose=OneTimeCode.Purpose.ACTIVATION,
            account=account,
            email=account.personal_email,
        )
        audit_record(kind=Kind.ACTIVATION_RESENT, student=account.student, ip=ip)
        _mail_activation(account=account, student=account.student, row=row, code=code)


def activation_code_status(code: str) -> CodeStatus | None:
    """What the GET page should say before the button: None when the code can be used."""
    status, row = code_lookup(OneTimeCode.Purpose.ACTIVATION, code)
    if status is CodeStatus.VALID:
        return None
    return _refusal(status, row)


def _refusal(status: CodeStatus, row: OneTimeCode | None) -> CodeStatus:
    if row is not None and row.account.state == Account.State.ACTIVE:
        return CodeStatus.ALREADY_ACTIVE
    return status


def activation_confirm(*, code: str, ip: str | None) -> CodeStatus:
    """Step 3: the POST behind the mailed link. Activates exactly once.

    Two clicks at once: ``code_consume`` lets one win; the other is told the account is
    already active.
    """
    status, row = code_check(purpose=OneTimeCode.Purpose.ACTIVATION, code=code, ip=ip)
    if status is not CodeStatus.VALID or row is None:
        refusal = _refusal(status, row)
        if row is not None and refusal is not CodeStatus.ALREADY_ACTIVE:
            audit_record(
                kind=Kind.ACTIVATION_CODE_REJECTED,
                student=row.account.student,
                ip=ip,
                reason=refusal.value,
            )
        return refusal
    with transaction.atomic():
        if not code_consume(row):
            account = Account.objects.get(pk=row.account_id)
            return (
                CodeStatus.ALREADY_ACTIVE
                if account.state == Account.State.ACTIVE
                else CodeStatus.USED
            )
        try:
            account_activate(account=row.account, email=row.email, ip=ip)
        except TransitionError:
            # Locked or disabled by the help desk meanwhile: the link cannot override that.
            transaction.set_rollback(True)
            return CodeStatus.USED
    metrics.ACTIVATIONS.labels(step="confirmed").inc()
    return CodeStatus.DONE
