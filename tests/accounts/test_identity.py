"""Identity proof (student number + INE) for its three purposes, and its one INE counter."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from ent.accounts.identity import (
    IDENTIFIED_FOR,
    Client,
    IdentifyResult,
    IdentifyStatus,
    IneReading,
    Purpose,
    identified_student,
    ine_failure,
    refusal_message,
    remember_identified,
    student_identify,
)
from ent.core import clock, throttle
from ent.core.models import AuditEvent
from tests.conftest import start_activation

pytestmark = pytest.mark.django_db

WRONG_INE = "999999999ZZ"


def identify(
    number: str, ine: str, *, ip: str | None, purpose: Purpose = Purpose.ACTIVATION
) -> IdentifyResult:
    return student_identify(number, ine, client=Client(ip=ip), purpose=purpose)


def ine_run(number: str) -> int:
    return throttle.read((throttle.ine_policy(), number), count=False).runs[0]


def kinds(student: Any) -> list[str]:
    return list(
        AuditEvent.objects.filter(student=student).order_by("pk").values_list("kind", flat=True)
    )


# --- Throttling (moved from test_activation.py) --------------------------------------------------


def test_throttling_with_clock(make_student: Any) -> None:
    student = make_student()
    for _ in range(4):
        result = identify(student.student_number, "999999999ZZ", ip="10.0.0.1")
        assert result.status is IdentifyStatus.WRONG and result.retry_at is None
    fifth = identify(student.student_number, "999999999ZZ", ip="10.0.0.1")
    assert fifth.retry_at is not None
    assert timedelta(seconds=59) <= fifth.retry_at - clock.now() <= timedelta(seconds=61)
    # Even the right INE is refused while blocked, from any address.
    blocked = identify(student.student_number, student.ine, ip="10.0.0.2")
    assert blocked.status is IdentifyStatus.THROTTLED
    clock.advance(timedelta(seconds=61))
    sixth = identify(student.student_number, "999999999ZZ", ip="10.0.0.2")
    assert sixth.retry_at is not None and sixth.retry_at - clock.now() >= timedelta(
        seconds=119
    )  # grows
    clock.advance(timedelta(minutes=3))
    ok = identify(student.student_number, student.ine, ip="10.0.0.2")
    assert ok.status is IdentifyStatus.IDENTIFIED


def test_cap_reached_within_a_day(make_student: Any, settings: Any) -> None:
    settings.THROTTLE_MAX_DELAY = 60  # keep delays short so 25 failures fit in a day
    student = make_student()
    number = student.student_number
    for _ in range(25):
        clock.advance(timedelta(seconds=61))
        identify(number, "999999999ZZ", ip=None)
    clock.advance(timedelta(minutes=30))
    result = identify(number, student.ine, ip=None)
    assert result.status is IdentifyStatus.THROTTLED
    assert result.retry_at is not None and result.retry_at - clock.now() > timedelta(hours=20)
    clock.advance(timedelta(hours=24))
    assert identify(number, student.ine, ip=None).status is IdentifyStatus.IDENTIFIED


def test_per_address_limit(make_student: Any, settings: Any) -> None:
    settings.THROTTLE_IP_FAILURES_PER_HOUR = 10
    students = [make_student() for _ in range(11)]
    for s in students[:10]:
        identify(s.student_number, "999999999ZZ", ip="192.0.2.7")
    blocked = identify(students[10].student_number, students[10].ine, ip="192.0.2.7")
    assert blocked.status is IdentifyStatus.THROTTLED
    other = identify(students[10].student_number, students[10].ine, ip="192.0.2.8")
    assert other.status is IdentifyStatus.IDENTIFIED


# --- The three purposes --------------------------------------------------------------------------


def test_activation_identifies_and_audits(make_student: Any) -> None:
    student = make_student()
    wrong = identify(student.student_number, WRONG_INE, ip="10.0.0.1")
    assert wrong.status is IdentifyStatus.WRONG and wrong.student is None
    assert ine_run(student.student_number) == 1
    ok = identify(f" {student.student_number} ", student.ine.lower(), ip="10.0.0.1")
    assert ok.status is IdentifyStatus.IDENTIFIED and ok.student == student
    assert ine_run(student.student_number) == 0  # a right INE ends the INE's run
    assert kinds(student) == ["activation.identify.failed", "activation.identify.ok"]


def test_activation_of_an_active_account(make_active_student: Any) -> None:
    student = make_active_student()
    identify(student.student_number, WRONG_INE, ip=None)
    before = kinds(student)
    result = identify(student.student_number, student.ine, ip=None)
    assert result.status is IdentifyStatus.ALREADY_ACTIVE and result.student == student
    assert ine_run(student.student_number) == 0
    assert kinds(student) == before  # no "identified" record


def test_unknown_number_answers_like_a_wrong_ine(make_student: Any) -> None:
    student = make_student()
    for purpose in (Purpose.ACTIVATION, Purpose.UPDATE_REQUEST):
        unknown = identify("29999999", student.ine, ip=None, purpose=purpose)
        wrong = identify(student.student_number, WRONG_INE, ip=None, purpose=purpose)
        assert unknown == wrong == IdentifyResult(IdentifyStatus.WRONG)
    assert ine_run("29999999") == 2  # the unknown number is counted too


def test_update_request_identifies_active_accounts_too(make_active_student: Any) -> None:
    student = make_active_student()
    wrong = identify(student.student_number, WRONG_INE, ip=None, purpose=Purpose.UPDATE_REQUEST)
    assert wrong.status is IdentifyStatus.WRONG
    assert kinds(student)[-1] == "update_request.identify.failed"
    before = kinds(student)
    ok = identify(student.student_number, student.ine, ip=None, purpose=Purpose.UPDATE_REQUEST)
    assert ok.status is IdentifyStatus.IDENTIFIED and ok.student == student
    assert ine_run(student.student_number) == 0
    assert kinds(student) == before  # a right pair is not recorded


def test_purposes_share_one_counter(make_student: Any) -> None:
    student = make_student()
    number = student.student_number
    for _ in range(2):
        identify(number, WRONG_INE, ip=None, purpose=Purpose.UPDATE_REQUEST)
    for _ in range(2):
        identify(number, WRONG_INE, ip=None)
    ine_failure(number)  # a wrong password at /login, counted as a wrong INE
    for purpose in (Purpose.ACTIVATION, Purpose.UPDATE_REQUEST):
        assert identify(number, student.ine, ip=None, purpose=purpose).status is (
            IdentifyStatus.THROTTLED
        )


def login(student: Any, ine: str, *, run: int = 0, open_: bool = True) -> IdentifyResult:
    reading = IneReading(student=student, run=run, open=open_)
    number = student.student_number if student is not None else "someone@example.org"
    return student_identify(
        number, ine, client=Client(ip="10.0.0.9"), purpose=Purpose.LOGIN, reading=reading
    )


def test_login_uses_what_sign_in_read(make_student: Any) -> None:
    student = make_student()
    start_activation(student, "blaise@example.org")  # pending: the INE leads to activation
    ine_failure(student.student_number)
    blocked = login(student, student.ine, run=1, open_=False)
    assert blocked == IdentifyResult(IdentifyStatus.THROTTLED)  # retry_at: sign-in's to say
    # A wrong INE (or no student) is left to sign-in to count and audit with its own failure.
    before = kinds(student)
    assert login(student, WRONG_INE, run=1).status is IdentifyStatus.WRONG
    assert login(None, student.ine).status is IdentifyStatus.WRONG
    assert ine_run(student.student_number) == 1 and kinds(student) == before
    ok = login(student, student.ine, run=1)
    assert ok.status is IdentifyStatus.IDENTIFIED and ok.student == student
    assert ine_run(student.student_number) == 0
    event = AuditEvent.objects.filter(student=student).latest("pk")
    assert (event.kind, event.ip) == ("login.ine_activation", "10.0.0.9")


def test_login_with_the_ine_of_an_active_account(make_active_student: Any) -> None:
    student = make_active_student()
    ine_failure(student.student_number)
    before = kinds(student)
    result = login(student, student.ine, run=1)
    assert result.status is IdentifyStatus.ALREADY_ACTIVE
    # Still a wrong password: nothing is reset, nothing recorded here.
    assert ine_run(student.student_number) == 1 and kinds(student) == before


def test_refusal_message() -> None:
    later = clock.now() + timedelta(minutes=2)
    assert refusal_message(IdentifyResult(IdentifyStatus.IDENTIFIED)) is None
    assert refusal_message(IdentifyResult(IdentifyStatus.ALREADY_ACTIVE)) is None
    assert "Trop d'essais" in str(
        refusal_message(IdentifyResult(IdentifyStatus.THROTTLED, retry_at=later))
    )
    wrong = str(refusal_message(IdentifyResult(IdentifyStatus.WRONG)))
    assert "code INE incorrect" in wrong and "Trop d'essais" not in wrong
    assert "Trop d'essais" in str(
        refusal_message(IdentifyResult(IdentifyStatus.WRONG, retry_at=later))
    )


def test_the_proof_opens_step_two_for_thirty_minutes(make_student: Any) -> None:
    student = make_student()
    request = RequestFactory().get("/activation/details/")
    request.session = SessionStore()
    assert identified_student(request) is None
    remember_identified(request, student)
    assert identified_student(request) == student
    clock.advance(IDENTIFIED_FOR + timedelta(seconds=1))
    assert identified_student(request) is None
