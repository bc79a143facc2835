"""Signing in: one function that every login path goes through.

Throttling (CNIL 2022-100 case 2), the INE-as-first-password path of the guide and the audit
record all live here, so no other path can check a password without them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import QuerySet

from ent.accounts.activation import ine_matches, throttle_failure, throttle_read
from ent.accounts.models import Account
from ent.core import fastsql, metrics, throttle
from ent.core.audit import Kind, audit_record
from ent.directory.models import Student


class LoginStatus(Enum):
    """Outcome of a sign-in attempt."""

    OK = "ok"
    FAILED = "failed"
    THROTTLED = "throttled"
    ACTIVATE = "activate"  # not activated yet, and the INE was given: go to activation step 2
    DISABLED = "disabled"
    PENDING = "pending"  # right password, but the activation link was not followed yet


@dataclass(frozen=True)
class LoginResult:
    """What ``login_attempt`` decided."""

    status: LoginStatus
    account: Account | None = None
    student: Student | None = None
    retry_at: datetime | None = None


def _find_student(identifier: str) -> Student | None:
    """The student (with their account) of a student number or institutional address.

    Every sign-in starts here, so the statement is compiled once (``fastsql.select``).
    """
    if not identifier:
        return None
    if "@" in identifier:
        found = fastsql.select(Student, "login-by-email", _by_email, identifier.lower())
    else:
        found = fastsql.select(Student, "login-by-number", _by_number, identifier)
    return found[0] if found else None


def _by_email() -> QuerySet[Student]:
    # As .first(): ordered by primary key (the column is unique anyway).
    return (
        Student.objects.select_related("account")
        .filter(institutional_email=fastsql.Arg(0))
        .order_by("pk")[:1]
    )


def _by_number() -> QuerySet[Student]:
    return (
        Student.objects.select_related("account")
        .filter(student_number=fastsql.Arg(0))
        .order_by("pk")[:1]
    )


def _burn_time(password: str) -> None:
    # Hash the password anyway so that an unknown identifier costs what a known one costs
    # (the response time must not tell which student numbers exist).
    make_password(password)


# The metric's label for each outcome (ent_logins_total{result=…}).
_METRIC_RESULT = {
    LoginStatus.OK: "success",
    LoginStatus.FAILED: "failure",
    LoginStatus.DISABLED: "failure",
    LoginStatus.THROTTLED: "throttled",
    LoginStatus.ACTIVATE: "not_activated",
    LoginStatus.PENDING: "not_activated",
}


def login_attempt(
    *,
    identifier: str,
    password: str,
    ip: str | None,
    on_success: Callable[[Account], None] | None = None,
) -> LoginResult:
    """Check a student number (or institutional address) and a password.

    ``on_success(account)`` runs inside the transaction that records a successful login (its
    audit record, the end of the run of failures): the caller opens the session there, so the
    whole success is one COMMIT, and none of it is recorded if opening the session fails. The
    password is hashed before that transaction begins, so no row is locked meanwhile.
    """
    result = _login_attempt(identifier=identifier, password=password, ip=ip, on_success=on_success)
    metrics.LOGINS.labels(result=_METRIC_RESULT[result.status]).inc()
    return result


def _login_attempt(
    *,
    identifier: str,
    password: str,
    ip: str | None,
    on_success: Callable[[Account], None] | None,
) -> LoginResult:
    identifier = identifier.strip()
    student = _find_student(identifier)
    key = student.student_number if student is not None else identifier.lower()
    counters = throttle_read(key, ip)  # both scopes in one query, and the run to reset
    if counters.retry_at is not None:
        audit_record(kind=Kind.LOGIN_THROTTLED, student=student, ip=ip)
        return LoginResult(LoginStatus.THROTTLED, retry_at=counters.retry_at)
    run = counters.runs[0]  # of the student number (the address's run is not reset)

    account: Account | None = getattr(student, "account", None) if student is not None else None
    if account is not None and account.state in (
        Account.State.ACTIVE,
        Account.State.LOCKED,
        Account.State.DISABLED,
    ):
        if account.check_password(password):
            with transaction.atomic():
                throttle.success(throttle.account_policy(), key, run)
                if account.state != Account.State.ACTIVE:
                    audit_record(
                        kind=Kind.LOGIN_FAILED, student=student, ip=ip, reason=account.state
                    )
                    return LoginResult(LoginStatus.DISABLED, account=account)
                audit_record(kind=Kind.LOGIN_OK, student=student, actor=account, ip=ip)
                if on_success is not None:
                    on_success(account)
            return LoginResult(LoginStatus.OK, account=account, student=student)
    else:
        # Unknown identifier, or a student who has not activated yet. Exactly one password
        # hash is computed on every branch, so the time taken tells nothing either.
        if account is not None:  # pending: the form was filled in, the mailed link not followed
            if account.check_password(password):
                with transaction.atomic():
                    throttle.success(throttle.account_policy(), key, run)
                    audit_record(kind=Kind.LOGIN_FAILED, student=student, ip=ip, reason="pending")
                return LoginResult(LoginStatus.PENDING, account=account, student=student)
        else:
            _burn_time(password)
        # The guide tells students to sign in with their INE as password before activating:
        # that leads to activation step 2 (and opens no session).
        if student is not None and ine_matches(student, password):
            with transaction.atomic():
                throttle.success(throttle.account_policy(), key, run)
                audit_record(kind=Kind.LOGIN_INE_TO_ACTIVATION, student=student, ip=ip)
            return LoginResult(LoginStatus.ACTIVATE, student=student)

    with transaction.atomic():
        retry = throttle_failure(key, ip)
        audit_record(kind=Kind.LOGIN_FAILED, student=student, ip=ip)
    return LoginResult(LoginStatus.FAILED, retry_at=retry)
