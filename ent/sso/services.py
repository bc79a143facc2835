"""Signing in: one function that every login path goes through.

Throttling (CNIL 2022-100 case 2, split by device cookie: ``ent.sso.devices``), the
INE-as-first-password path of the guide and the audit record all live here, so no other path
can check a password without them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import QuerySet

from ent.accounts.identity import (
    Client,
    IdentifyStatus,
    IneReading,
    Purpose,
    ine_counter,
    ine_failure,
    student_identify,
)
from ent.accounts.models import Account, account_state_is_active
from ent.core import clock, fastsql, metrics, throttle
from ent.core.audit import Kind, audit_record
from ent.directory.models import Student

from .devices import device_id, device_issue


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
    """What ``login_attempt`` decided.

    ``device_cookie``: on OK, the new device cookie for the browser (``ent.sso.devices``).
    ``ine_of_active``: on FAILED, the password typed is the INE of an activated account (the
    guide's first step, repeated): the page says so, as the activation page does for the pair.
    """

    status: LoginStatus
    account: Account | None = None
    student: Student | None = None
    retry_at: datetime | None = None
    device_cookie: str | None = None
    ine_of_active: bool = False


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
    device_cookie: str | None = None,
) -> LoginResult:
    """Check a student number (or institutional address) and a password.

    ``on_success(account)`` runs inside the transaction that records a successful login (its
    audit record, the end of the run of failures): the caller opens the session there, so the
    whole success is one COMMIT, and none of it is recorded if opening the session fails. The
    password is hashed before that transaction begins, so no row is locked meanwhile.

    ``device_cookie``: the browser's device cookie, if any. Valid for this account (and not
    revoked), the attempt is throttled on that device's counter; otherwise on the counter of
    the account's untrusted clients. The per-address limit applies to both.
    """
    result = _login_attempt(
        identifier=identifier,
        password=password,
        ip=ip,
        on_success=on_success,
        device_cookie=device_cookie,
    )
    metrics.LOGINS.labels(result=_METRIC_RESULT[result.status]).inc()
    return result


@dataclass(frozen=True)
class _Counters:
    """The counters one sign-in attempt reads (one round trip) and writes."""

    side: str  # the action counted: "device", or "password" (untrusted clients)
    side_key: str
    device: str | None  # the device id when the attempt is counted on its device
    run: int  # of the side, before the attempt
    ine_run: int
    ine_open: bool  # the INE may be checked: its own counter does not block it
    retry_at: datetime | None  # set when the side or the address blocks the attempt


def _counters_read(key: str, device: str | None, ip: str | None) -> _Counters:
    pairs = [(throttle.policy("password"), key), ine_counter(key)]
    if device is not None:
        pairs.append((throttle.policy("device"), device))
    if ip:
        pairs.append((throttle.policy("address"), ip))
    reading = throttle.read(*pairs, count=False)
    side = 0
    if device is not None:
        if reading.exhausted[2]:
            device = None  # revoked: it failed its own limit, the browser is untrusted again
        else:
            side = 2
    deciding = [side] + ([len(pairs) - 1] if ip else [])
    blocked = [(pairs[i][0], reading.blocked[i]) for i in deciding if reading.blocked[i]]
    for policy, _until in blocked:
        throttle.note_throttled(policy)
    return _Counters(
        side="device" if side else "password",
        side_key=pairs[side][1],
        device=device,
        run=reading.runs[side],
        ine_run=reading.runs[1],
        ine_open=reading.blocked[1] is None,
        retry_at=max((until for _p, until in blocked if until), default=None),
    )


def _counters_fail(counters: _Counters, key: str, ip: str | None, *, ine: bool) -> datetime | None:
    """Count a failed sign-in; when the client may try again, if it is now blocked."""
    retry = throttle.failed(counters.side, counters.side_key)  # the address: below
    # A block longer than any delay is the device's cap: the cookie is revoked, and the next
    # try from that browser is an untrusted client's (the page must not announce months).
    if (
        counters.device is not None
        and retry is not None
        and retry - clock.now() > throttle.policy(counters.side).max_delay
    ):
        retry = None
    if ine:
        # The form answers whether the INE is right (ACTIVATE, or ``ine_of_active``): every
        # wrong guess here is a wrong INE too, so the INE's daily cap holds across every form.
        # The INE's own block is not this page's to announce: only the address's counts here.
        ine_failure(key)
    times = [retry, throttle.failed("address", ip) if ip else None]
    return max((t for t in times if t is not None), default=None)


def _ine_given(
    student: Student | None, key: str, password: str, ip: str | None, counters: _Counters
) -> IdentifyStatus:
    """The password checked as the student's INE, on the INE counter read with the others."""
    ine = IneReading(student=student, run=counters.ine_run, open=counters.ine_open)
    return student_identify(
        key, password, client=Client(ip), purpose=Purpose.LOGIN, reading=ine
    ).status


def _login_attempt(
    *,
    identifier: str,
    password: str,
    ip: str | None,
    on_success: Callable[[Account], None] | None,
    device_cookie: str | None,
) -> LoginResult:
    identifier = identifier.strip()
    student = _find_student(identifier)
    key = student.student_number if student is not None else identifier.lower()
    account: Account | None = getattr(student, "account", None) if student is not None else None
    # Every counter of the attempt in one query (one Redis round trip): the password side
    # (this device, or the untrusted clients), the INE, the address.
    counters = _counters_read(key, device_id(device_cookie, account), ip)
    audit_data: dict[str, Any] = {"device": counters.device} if counters.device else {}
    if counters.retry_at is not None:
        audit_record(kind=Kind.LOGIN_THROTTLED, student=student, ip=ip, **audit_data)
        return LoginResult(LoginStatus.THROTTLED, retry_at=counters.retry_at)

    ine_of_active = False
    if account is not None and account.state in (
        Account.State.ACTIVE,
        Account.State.LOCKED,
        Account.State.DISABLED,
    ):
        if account.check_password(password):
            return _password_right(account, student, counters, ip, on_success)
        # The guide's first step repeated after activation: the INE typed as the password.
        # Said as the activation page says it for the same pair; still a wrong password,
        # counted as one, and no reset of anything. A comparison, no hash: it costs nothing.
        ine_of_active = (
            _ine_given(student, key, password, ip, counters) is IdentifyStatus.ALREADY_ACTIVE
        )
    else:
        # Unknown identifier, or a student who has not activated yet. Exactly one password
        # hash is computed on every branch, so the time taken tells nothing either.
        pending = _pending_check(account, student, password, counters, ip)
        if pending is not None:
            return pending
        # The guide tells students to sign in with their INE as password before activating:
        # that leads to activation step 2 (and opens no session). A right INE ends the INE's
        # run, not the password's. While the INE's counter blocks, the INE is not checked.
        if _ine_given(student, key, password, ip, counters) is IdentifyStatus.IDENTIFIED:
            return LoginResult(LoginStatus.ACTIVATE, student=student)

    with transaction.atomic():
        retry = _counters_fail(counters, key, ip, ine=not ine_of_active)
        if ine_of_active:
            audit_data["reason"] = "ine"
        audit_record(kind=Kind.LOGIN_FAILED, student=student, ip=ip, **audit_data)
    return LoginResult(LoginStatus.FAILED, retry_at=retry, ine_of_active=ine_of_active)


def _password_right(
    account: Account,
    student: Student | None,
    counters: _Counters,
    ip: str | None,
    on_success: Callable[[Account], None] | None,
) -> LoginResult:
    """The right password of an activated account: OK, or DISABLED when it is not active."""
    with transaction.atomic():
        # A right password ends the password's run on this side only (the INE's run, and
        # the untrusted clients' run when signing in from a device, stay).
        throttle.success(throttle.policy(counters.side), counters.side_key, counters.run)
        if not account_state_is_active(account.state):
            audit_record(kind=Kind.LOGIN_FAILED, student=student, ip=ip, reason=account.state)
            return LoginResult(LoginStatus.DISABLED, account=account)
        audit_record(kind=Kind.LOGIN_OK, student=student, actor=account, ip=ip)
        if on_success is not None:
            on_success(account)
    return LoginResult(
        LoginStatus.OK, account=account, student=student, device_cookie=device_issue(account)
    )


def _pending_check(
    account: Account | None,
    student: Student | None,
    password: str,
    counters: _Counters,
    ip: str | None,
) -> LoginResult | None:
    """PENDING for the right password of an account whose mailed link was not followed yet
    (the form was filled in); otherwise None, after the same one password hash."""
    if account is None:
        _burn_time(password)
        return None
    if not account.check_password(password):
        return None
    with transaction.atomic():
        throttle.success(throttle.policy(counters.side), counters.side_key, counters.run)
        audit_record(kind=Kind.LOGIN_FAILED, student=student, ip=ip, reason="pending")
    return LoginResult(LoginStatus.PENDING, account=account, student=student)
