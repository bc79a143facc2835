"""The activation journey ("Activer mon compte"), top to bottom.

1. ``activation_identify``: student number + INE (throttled like a password).
2. ``activation_start``: personal address, new password, IT charter; mails a link.
   ``activation_resend`` mails a fresh link (throttled); starting again revokes the old code.
3. ``activation_confirm``: the POST behind the mailed link activates the account once.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ent.core import clock, metrics, throttle
from ent.core.audit import Kind, audit_record
from ent.core.codes import (
    CodeStatus,
    code_check,
    code_consume,
    code_issue,
    code_lookup,
    link_cap_reached,
    link_url,
)
from ent.core.mail import mail_send
from ent.core.models import OneTimeCode
from ent.directory.identifiers import normalise_ine, normalise_student_number
from ent.directory.models import Student

from . import password_policy
from .models import Account

# Compared against when the student number is unknown, so both failures take the same path.
_DUMMY_INE = "0000000000X"


class IdentifyStatus(Enum):
    """Outcome of step 1."""

    OK = "ok"
    WRONG = "wrong"
    THROTTLED = "throttled"
    ALREADY_ACTIVE = "already_active"


@dataclass(frozen=True)
class IdentifyResult:
    """What step 1 found; ``retry_at`` is set when the student must wait."""

    status: IdentifyStatus
    student: Student | None = None
    retry_at: datetime | None = None


def throttle_read(student_number: str, ip: str | None) -> throttle.Reading:
    """The INE counter of this student number (first) and this address, in one round trip.

    The INE has counters of its own (issue 13 §2): a right INE ends the run of wrong INEs,
    never the run of wrong passwords, which would otherwise restart at every identification.
    """
    return throttle.read_with_address(throttle.ine_policy(), student_number, ip)


def throttle_retry_at(student_number: str, ip: str | None) -> datetime | None:
    """When this student number (or this address) may guess again; None if it may now."""
    return throttle_read(student_number, ip).retry_at


def throttle_failure(student_number: str, ip: str | None) -> datetime | None:
    """Count a wrong INE for the student number and the address."""
    times = [throttle.failure(throttle.ine_policy(), student_number)]
    if ip:
        times.append(throttle.failure(throttle.address_policy(), ip))
    blocked = [t for t in times if t is not None]
    return max(blocked) if blocked else None


def ine_matches(student: Student | None, raw_ine: str) -> bool:
    """Constant-time comparison of the INE given with the one on record."""
    expected = student.ine if student is not None else _DUMMY_INE
    ok = hmac.compare_digest(normalise_ine(raw_ine).encode(), expected.encode())
    return ok and student is not None


def activation_identify(*, student_number: str, ine: str, ip: str | None) -> IdentifyResult:
    """Step 1: is this the student's number and INE?

    An unknown number and a wrong INE give the same answer, and both count toward the
    throttling of that number, so the form tells nobody which numbers exist.
    """
    number = normalise_student_number(student_number)
    blocked = throttle_retry_at(number, ip)
    if blocked is not None:
        return IdentifyResult(IdentifyStatus.THROTTLED, retry_at=blocked)
    student = (
        Student.objects.select_related("account").filter(student_number=number).first()
        if number
        else None
    )
    if not ine_matches(student, ine):
        with transaction.atomic():
            retry = throttle_failure(number, ip)
            audit_record(kind=Kind.ACTIVATION_IDENTIFY_FAILED, student=student, ip=ip)
        return IdentifyResult(IdentifyStatus.WRONG, retry_at=retry)
    assert student is not None
    throttle.success(throttle.ine_policy(), number)  # the INE's run only: not the password's
    account = getattr(student, "account", None)
    if account is not None and account.state != Account.State.PENDING:
        return IdentifyResult(IdentifyStatus.ALREADY_ACTIVE, student=student)
    audit_record(kind=Kind.ACTIVATION_IDENTIFY_OK, student=student, ip=ip)
    return IdentifyResult(IdentifyStatus.OK, student=student)


class AlreadyActiveError(Exception):
    """The account was activated meanwhile (another tab, another device)."""


def _mail_activation(*, account: Account, student: Student, code: str) -> None:
    mail_send(
        to=account.personal_email,
        template="activation",
        context={
            "full_name": student.full_name,
            "link": link_url(OneTimeCode.Purpose.ACTIVATION, code),
            "hours": settings.ACTIVATION_CODE_HOURS,
        },
    )


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
        _row, code = code_issue(
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
        _mail_activation(account=account, student=student, code=code)
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
        _row, code = code_issue(
            purpose=OneTimeCode.Purpose.ACTIVATION,
            account=account,
            email=account.personal_email,
        )
        audit_record(kind=Kind.ACTIVATION_RESENT, student=account.student, ip=ip)
        _mail_activation(account=account, student=account.student, code=code)


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
        now = clock.now()
        activated = Account.objects.filter(pk=row.account_id, state=Account.State.PENDING).update(
            state=Account.State.ACTIVE,
            activated_at=now,
            personal_email=row.email,
            personal_email_verified_at=now,
        )
        if not activated:
            # Locked or disabled by the help desk meanwhile: the link cannot override that.
            transaction.set_rollback(True)
            return CodeStatus.USED
        audit_record(kind=Kind.ACTIVATION_CONFIRMED, student=row.account.student, ip=ip)
    metrics.ACTIVATIONS.labels(step="confirmed").inc()
    return CodeStatus.DONE
