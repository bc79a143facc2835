"""Identity proof: a student number and its INE, checked in one place.

Activation step 1, the anonymous update request and the INE typed as a password at /login
prove who the student is the same way: ``student_identify``. An unknown number and a wrong INE
give the same answer, and every wrong INE counts on one counter per student number (issue 13
§2), shared by the three, so no form is a side door for guessing. The INE counter (reading it,
counting a failure, ending a run) is touched here only.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from ent.core import clock, throttle
from ent.core import session_keys as keys
from ent.core.audit import Kind, audit_record
from ent.core.messages import retry_message
from ent.directory.identifiers import normalise_ine, normalise_student_number
from ent.directory.models import Student

from .models import Account

# Compared against when the student number is unknown, so both failures take the same path.
_DUMMY_INE = "0000000000X"


class Purpose(Enum):
    """Which form asks for the proof."""

    ACTIVATION = "activation"
    UPDATE_REQUEST = "update_request"
    LOGIN = "login"  # the INE typed as the password at /login (the guide's first step)


class IdentifyStatus(Enum):
    """Outcome of the proof."""

    IDENTIFIED = "identified"
    WRONG = "wrong"  # unknown number or wrong INE: one answer for both
    THROTTLED = "throttled"
    ALREADY_ACTIVE = "already_active"  # activation and login: the account is activated already


@dataclass(frozen=True)
class Client:
    """What the proof needs of the request."""

    ip: str | None


@dataclass(frozen=True)
class IdentifyResult:
    """What the proof found; ``retry_at`` is set when the student must wait."""

    status: IdentifyStatus
    student: Student | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True)
class IneReading:
    """What sign-in read before checking the INE: the student its identifier names, and the
    INE counter (``ine_counter``), read with its other counters in one round trip."""

    student: Student | None
    run: int
    open: bool  # the INE may be checked: its counter does not block it


@dataclass(frozen=True)
class _Rules:
    identified: Kind | None  # audit of a right pair (None: no record)
    wrong: Kind | None  # audit of a wrong pair, counted here (None: the caller counts and audits)
    asks_account: bool  # a right pair of an activated account answers ALREADY_ACTIVE
    active_ends_run: bool  # ... after ending the INE's run (sign-in: still a wrong password)


_RULES = {
    Purpose.ACTIVATION: _Rules(
        identified=Kind.ACTIVATION_IDENTIFY_OK,
        wrong=Kind.ACTIVATION_IDENTIFY_FAILED,
        asks_account=True,
        active_ends_run=True,
    ),
    Purpose.UPDATE_REQUEST: _Rules(
        identified=None,
        wrong=Kind.UPDATE_REQUEST_IDENTIFY_FAILED,
        asks_account=False,
        active_ends_run=True,
    ),
    Purpose.LOGIN: _Rules(
        identified=Kind.LOGIN_INE_TO_ACTIVATION,
        wrong=None,
        asks_account=True,
        active_ends_run=False,
    ),
}


def student_identify(
    student_number: str,
    ine: str,
    *,
    client: Client,
    purpose: Purpose,
    reading: IneReading | None = None,
) -> IdentifyResult:
    """Is this the student's number and INE?

    While the INE counter of the number (or the address) blocks, the INE is not checked. A
    right INE ends the INE's run, never the password's. ``reading``: sign-in's (the student
    found and the counter already read); sign-in counts a wrong INE itself (``ine_failure``),
    with its own failure.
    """
    rules = _RULES[purpose]
    if reading is None:
        number = normalise_student_number(student_number)
        blocked = throttle.blocked("ine", number, ip=client.ip)
        if blocked is not None:
            return IdentifyResult(IdentifyStatus.THROTTLED, retry_at=blocked)
        student = (
            Student.objects.select_related("account").filter(student_number=number).first()
            if number
            else None
        )
        run = None
    else:
        number, student, run = student_number, reading.student, reading.run
        if not reading.open:  # sign-in does not announce the INE's own block
            return IdentifyResult(IdentifyStatus.THROTTLED)
    if not _ine_matches(student, ine):
        retry = None
        if rules.wrong is not None:
            with transaction.atomic():
                retry = ine_failure(number, client=client)
                audit_record(kind=rules.wrong, student=student, ip=client.ip)
        return IdentifyResult(IdentifyStatus.WRONG, retry_at=retry)
    assert student is not None
    return _identified(number, student, run, client=client, rules=rules)


def _identified(
    number: str, student: Student, run: int | None, *, client: Client, rules: _Rules
) -> IdentifyResult:
    account: Account | None = getattr(student, "account", None)
    active = rules.asks_account and account is not None and account.state != Account.State.PENDING
    if active and not rules.active_ends_run:
        return IdentifyResult(IdentifyStatus.ALREADY_ACTIVE, student=student)
    with transaction.atomic():
        throttle.success(throttle.policy("ine"), number, run)  # the INE's run only
        if active:
            return IdentifyResult(IdentifyStatus.ALREADY_ACTIVE, student=student)
        if rules.identified is not None:
            audit_record(kind=rules.identified, student=student, ip=client.ip)
    return IdentifyResult(IdentifyStatus.IDENTIFIED, student=student)


def _ine_matches(student: Student | None, raw_ine: str) -> bool:
    """Constant-time comparison of the INE given with the one on record."""
    expected = student.ine if student is not None else _DUMMY_INE
    ok = hmac.compare_digest(normalise_ine(raw_ine).encode(), expected.encode())
    return ok and student is not None


def ine_counter(student_number: str) -> tuple[throttle.Policy, str]:
    """The INE counter of a student number, for sign-in to read with its other counters."""
    return throttle.policy("ine"), student_number


def ine_failure(student_number: str, *, client: Client | None = None) -> datetime | None:
    """Count a wrong INE for the student number and, when given, the client's address.

    Sign-in counts the address itself (once per attempt), so it gives no client.
    """
    return throttle.failed("ine", student_number, ip=client.ip if client is not None else None)


def refusal_message(result: IdentifyResult) -> str | None:
    """What the identification form says when the pair is refused (None: it is not)."""
    if result.status is IdentifyStatus.THROTTLED and result.retry_at:
        return retry_message(result.retry_at)
    if result.status is not IdentifyStatus.WRONG:
        return None
    message = _(
        "Numéro étudiant ou code INE incorrect. Vérifiez les deux (le code INE figure sur"
        " votre certificat de scolarité)."
    )
    if result.retry_at:
        message += " " + retry_message(result.retry_at)
    return message


# --- After the proof: activation step 2 -------------------------------------------------------

# How long the proof stays valid for step 2 (a student fills the form, not a coffee break).
IDENTIFIED_FOR = timedelta(minutes=30)


def remember_identified(request: HttpRequest, student: Student) -> None:
    """After a correct number + INE (activation step 1 or /login), open activation step 2."""
    request.session.cycle_key()
    request.session[keys.ACTIVATION_STUDENT] = student.pk
    request.session[keys.ACTIVATION_STARTED_AT] = clock.now().timestamp()


def identified_student(request: HttpRequest) -> Student | None:
    """The student this session proved to be, if that was less than ``IDENTIFIED_FOR`` ago."""
    pk = request.session.get(keys.ACTIVATION_STUDENT)
    started = request.session.get(keys.ACTIVATION_STARTED_AT, 0)
    if pk is None or clock.now().timestamp() - float(started) > IDENTIFIED_FOR.total_seconds():
        return None
    return Student.objects.select_related("account").filter(pk=pk).first()
