"""The forgotten-password services: request, help desk send, code status, confirm."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from ent.accounts import password_reset as reset
from ent.accounts.models import Account
from ent.accounts.password_reset import ResetLink
from ent.core import clock
from ent.core.codes import CodeStatus
from ent.core.models import AuditEvent, OneTimeCode
from tests.accounts.selfservice import (
    NEW_PASSWORD,
    code_in,
    is_signed_in,
    outbox,
    signed_in,
)
from tests.conftest import GOOD_PASSWORD, SMTPCatcher, start_activation, text_body

pytestmark = pytest.mark.django_db


def test_request_mails_a_single_use_link(active_student: Any, settings: Any) -> None:
    before = len(outbox())
    reset.password_reset_request(identifier=f" {active_student.student_number} ", ip="192.0.2.1")
    mails = outbox()[before:]
    assert len(mails) == 1 and mails[0].to == ["sophie@example.org"]
    code = code_in(mails[0].body)
    assert f"{settings.BASE_URL}/password/reset/confirm?code={code}" in mails[0].body
    row = OneTimeCode.objects.get(purpose=OneTimeCode.Purpose.PASSWORD_RESET)
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert row.expires_at - row.created_at == timedelta(minutes=60)
    event = AuditEvent.objects.filter(kind=AuditEvent.Kind.PASSWORD_RESET_REQUESTED).get()
    assert event.data == {"outcome": "sent"} and event.ip == "192.0.2.1"


def test_request_by_institutional_address(active_student: Any) -> None:
    before = len(outbox())
    reset.password_reset_request(identifier=active_student.institutional_email.upper(), ip=None)
    assert len(outbox()) == before + 1


@pytest.mark.parametrize("state", ["pending", "locked", "disabled", "unverified", "unknown"])
def test_request_sends_nothing_when_it_must_not(
    state: str, make_student: Any, make_active_student: Any
) -> None:
    if state == "pending":
        student = make_student()
        start_activation(student, "pending@example.org")
    else:
        student = make_active_student()
        account = student.account
        if state in ("locked", "disabled"):
            account.state = state
        if state == "unverified":
            account.personal_email_verified_at = None
        account.save()
    before = len(outbox())
    identifier = "29999999" if state == "unknown" else student.student_number
    reset.password_reset_request(identifier=identifier, ip=None)
    assert len(outbox()) == before
    assert not OneTimeCode.objects.filter(purpose=OneTimeCode.Purpose.PASSWORD_RESET).exists()


def test_request_throttled_per_identifier_without_locking(
    active_student: Any, settings: Any, client: Any
) -> None:
    settings.PASSWORD_RESET_PER_HOUR = 3
    for _ in range(3):
        reset.password_reset_request(identifier=active_student.student_number, ip=None)
    with pytest.raises(reset.ResetThrottledError) as caught:
        reset.password_reset_request(identifier=active_student.student_number, ip=None)
    assert caught.value.retry_at > clock.now()
    # Unknown identifiers are limited exactly the same way (no enumeration by the limit).
    for _ in range(3):
        reset.password_reset_request(identifier="29999999", ip=None)
    with pytest.raises(reset.ResetThrottledError):
        reset.password_reset_request(identifier="29999999", ip=None)
    # The account is not locked: the student still signs in.
    assert is_signed_in(signed_in(active_student))
    clock.advance(timedelta(hours=1, seconds=1))
    reset.password_reset_request(identifier=active_student.student_number, ip=None)


def test_request_throttled_per_client_address(db: None, settings: Any) -> None:
    settings.PASSWORD_RESET_IP_PER_HOUR = 4
    for n in range(4):
        reset.password_reset_request(identifier=f"2000000{n}", ip="198.51.100.7")
    with pytest.raises(reset.ResetThrottledError):
        reset.password_reset_request(identifier="20000009", ip="198.51.100.7")
    reset.password_reset_request(identifier="20000009", ip="198.51.100.8")


def test_helpdesk_send(active_student: Any, make_student: Any) -> None:
    staff = Account.objects.create_user("agent", "Agent.Helpdesk2026")
    before = len(outbox())
    assert reset.password_reset_send(account=active_student.account, actor=staff, ip="10.0.0.1")
    mails = outbox()[before:]
    assert len(mails) == 1 and mails[0].to == ["sophie@example.org"]
    event = AuditEvent.objects.filter(kind=AuditEvent.Kind.PASSWORD_RESET_REQUESTED).first()
    assert event is not None and event.actor == staff and event.data["outcome"] == "sent"
    pending = make_student()
    start_activation(pending, "p@example.org")
    count = len(outbox())
    assert not reset.password_reset_send(
        account=Account.objects.get(student=pending), actor=staff, ip=None
    )
    assert len(outbox()) == count


def _link(student: Any) -> str:
    before = len(outbox())
    reset.password_reset_request(identifier=student.student_number, ip=None)
    return code_in(outbox()[before].body)


def test_confirm_sets_password_ends_every_session_and_notifies(
    active_student: Any, smtp_server: SMTPCatcher
) -> None:
    phone, laptop = signed_in(active_student), signed_in(active_student)
    reset.password_reset_request(identifier=active_student.student_number, ip=None)
    code = code_in(text_body(smtp_server.wait_for(1)[0]))
    status = reset.password_reset_code_status(code, ip=None)
    assert isinstance(status, ResetLink) and status.account == active_student.account
    assert reset.password_reset_confirm(code=code, password=NEW_PASSWORD, ip="192.0.2.9") is (
        CodeStatus.DONE
    )
    assert not is_signed_in(phone) and not is_signed_in(laptop)
    account = Account.objects.get(pk=active_student.account.pk)
    assert account.check_password(NEW_PASSWORD)
    notice = smtp_server.wait_for(2)[1]
    assert notice["Subject"] == "Votre mot de passe a été modifié"
    assert notice["To"] == "sophie@example.org"
    body = text_body(notice)
    assert "192.0.2.9" in body and NEW_PASSWORD not in body and "assistance@" in body
    # Single use.
    assert reset.password_reset_code_status(code, ip=None) is CodeStatus.USED
    assert reset.password_reset_confirm(code=code, password="Autre.Chose2028", ip=None) is (
        CodeStatus.USED
    )


def test_confirm_refuses_policy_and_current_password(active_student: Any) -> None:
    code = _link(active_student)
    with pytest.raises(ValidationError) as caught:
        reset.password_reset_confirm(code=code, password="short", ip=None)
    assert "au moins 8 caractères" in " ".join(caught.value.messages)
    with pytest.raises(ValidationError) as caught:
        reset.password_reset_confirm(code=code, password=GOOD_PASSWORD, ip=None)
    assert "différent de votre mot de passe actuel" in " ".join(caught.value.messages)
    with pytest.raises(ValidationError):
        reset.password_reset_confirm(code=code, password="Sophie.Germain2026", ip=None)
    # A refused password does not use up the link.
    assert isinstance(reset.password_reset_code_status(code, ip=None), ResetLink)


def test_expired_revoked_unknown_inactive(active_student: Any, settings: Any) -> None:
    settings.PASSWORD_RESET_CODE_MINUTES = 30
    first = _link(active_student)
    second = _link(active_student)
    assert reset.password_reset_code_status(first, ip=None) is CodeStatus.REVOKED
    assert reset.password_reset_confirm(code=first, password=NEW_PASSWORD, ip=None) is (
        CodeStatus.REVOKED
    )
    assert reset.password_reset_code_status("A" * 20, ip=None) is CodeStatus.UNKNOWN
    assert reset.password_reset_code_status("not a code", ip=None) is CodeStatus.UNKNOWN
    clock.advance(timedelta(minutes=31))
    assert reset.password_reset_code_status(second, ip=None) is CodeStatus.EXPIRED
    assert reset.password_reset_confirm(code=second, password=NEW_PASSWORD, ip=None) is (
        CodeStatus.EXPIRED
    )
    third = _link(active_student)
    Account.objects.filter(pk=active_student.account.pk).update(state=Account.State.LOCKED)
    assert reset.password_reset_code_status(third, ip=None) is CodeStatus.INACTIVE
    assert reset.password_reset_confirm(code=third, password=NEW_PASSWORD, ip=None) is (
        CodeStatus.INACTIVE
    )
    assert Account.objects.get(pk=active_student.account.pk).check_password(GOOD_PASSWORD)


def test_wrong_codes_are_throttled_per_address(active_student: Any) -> None:
    for n in range(50):
        status = reset.password_reset_confirm(code=f"{n:020d}", password=NEW_PASSWORD, ip="5.6.7.8")
        assert status is CodeStatus.UNKNOWN
    code = _link(active_student)
    assert reset.password_reset_confirm(code=code, password=NEW_PASSWORD, ip="5.6.7.8") is (
        CodeStatus.THROTTLED
    )
    assert reset.password_reset_confirm(code=code, password=NEW_PASSWORD, ip="5.6.7.9") is (
        CodeStatus.DONE
    )


@pytest.mark.django_db(transaction=True)
def test_two_resets_at_once_change_the_password_once(active_student: Any) -> None:
    code = _link(active_student)
    passwords = [f"Course.Parallele{n}x" for n in range(4)]
    results: list[CodeStatus] = []
    barrier = threading.Barrier(len(passwords))

    def confirm(password: str) -> None:
        barrier.wait()
        try:
            results.append(reset.password_reset_confirm(code=code, password=password, ip=None))
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm, args=(p,)) for p in passwords]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.value for r in results) == ["done", "used", "used", "used"], results
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.PASSWORD_RESET).count() == 1
    account = Account.objects.get(pk=active_student.account.pk)
    assert sum(account.check_password(p) for p in passwords) == 1
