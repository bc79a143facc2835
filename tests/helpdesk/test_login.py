"""Staff sign-in: password, then TOTP (enrolment on the first sign-in), throttled and audited."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ent.core.models import AuditEvent
from tests.conftest import GOOD_PASSWORD, STAFF_PASSWORD, page_text, staff_sign_in, totp_code

pytestmark = pytest.mark.django_db


def error_summary(response: Any) -> str:
    match = re.search(r'<div class="error-summary".*?</div>', page_text(response), re.S)
    assert match, page_text(response)
    return match.group(0)


def test_wrong_password_unknown_user_and_student_answer_the_same(
    client: Client, make_staff: Any, make_active_student: Any
) -> None:
    agent = make_staff("agent")
    student = make_active_student()
    answers = {
        error_summary(client.post("/helpdesk/login", {"username": u, "password": p}))
        for u, p in [
            (agent.username, "Pas.LeBon2026"),
            ("nobody", STAFF_PASSWORD),
            (student.student_number, GOOD_PASSWORD),  # students never sign in here
        ]
    }
    assert len(answers) == 1 and "Identifiant ou mot de passe incorrect" in answers.pop()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.STAFF_LOGIN_FAILED).count() == 3


def test_disabled_staff_cannot_sign_in(client: Client, make_staff: Any) -> None:
    agent = make_staff("agent")
    agent.state = "disabled"
    agent.save()
    response = client.post(
        "/helpdesk/login", {"username": agent.username, "password": STAFF_PASSWORD}
    )
    assert "Identifiant ou mot de passe incorrect" in error_summary(response)


def test_password_throttled(client: Client, make_staff: Any, settings: Any) -> None:
    agent = make_staff("agent")
    for _ in range(settings.THROTTLE_FREE_FAILURES):
        client.post("/helpdesk/login", {"username": agent.username, "password": "wrong"})
    response = client.post(
        "/helpdesk/login", {"username": agent.username, "password": STAFF_PASSWORD}
    )
    assert "Trop d'essais infructueux" in error_summary(response)
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.STAFF_LOGIN_THROTTLED).exists()


def test_password_alone_reaches_no_helpdesk_page(client: Client, make_staff: Any) -> None:
    agent = make_staff("agent")
    response = client.post(
        "/helpdesk/login", {"username": agent.username, "password": STAFF_PASSWORD}
    )
    assert response["Location"] == "/helpdesk/login/code"
    assert "_auth_user_id" not in client.session  # no session until the TOTP code
    for path in ("/helpdesk/", "/helpdesk/search?q=a", "/helpdesk/requests/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == "/helpdesk/login"


def test_session_without_otp_is_refused(client: Client, make_staff: Any) -> None:
    """Even a staff session opened some other way is refused without a verified TOTP device."""
    from tests.helpdesk.test_permissions import protected, url_of

    admin = make_staff("administrator")
    client.force_login(admin)
    for pattern in protected():
        for method in ("get", "post"):
            response = getattr(client, method)(url_of(pattern))
            if response.status_code == 405:
                continue  # a POST-only action asked with GET
            assert response.status_code == 302, (pattern.name, method)
            assert response["Location"] == "/helpdesk/login", (pattern.name, method)


def test_totp_then_session(client: Client, make_staff: Any) -> None:
    agent = make_staff("agent")
    client.post("/helpdesk/login", {"username": agent.username, "password": STAFF_PASSWORD})
    device = TOTPDevice.objects.get(user=agent)
    wrong = "000000" if totp_code(device) != "000000" else "000001"
    response = client.post("/helpdesk/login/code", {"code": wrong})
    assert "Code incorrect" in page_text(response)
    response = client.post("/helpdesk/login/code", {"code": totp_code(device)})
    assert response.status_code == 302 and response["Location"] == "/helpdesk/"
    assert client.get("/helpdesk/").status_code == 200
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.STAFF_LOGIN_OK, actor=agent).exists()
    # A code works once: replayed in another browser, it is refused.
    other = Client()
    other.post("/helpdesk/login", {"username": agent.username, "password": STAFF_PASSWORD})
    response = other.post("/helpdesk/login/code", {"code": totp_code(device)})
    assert "Code incorrect" in page_text(response)


def test_totp_code_replayed_by_concurrent_requests_is_refused(make_staff: Any) -> None:
    """Two requests that loaded the device before either verified the code (as two sign-ins
    at the same moment do): the second must see the step the first used, not its stale copy."""
    from ent.helpdesk import auth

    agent = make_staff("agent")
    first_copy = auth.confirmed_device(agent)
    second_copy = auth.confirmed_device(agent)
    assert first_copy is not None and second_copy is not None
    code = totp_code(first_copy)
    first = auth._check(account=agent, device=first_copy, code=code, ip="192.0.2.1")
    second = auth._check(account=agent, device=second_copy, code=code, ip="192.0.2.2")
    assert first.device is not None
    assert second.device is None


def test_totp_throttled(client: Client, make_staff: Any, settings: Any) -> None:
    agent = make_staff("agent")
    client.post("/helpdesk/login", {"username": agent.username, "password": STAFF_PASSWORD})
    device = TOTPDevice.objects.get(user=agent)
    wrong = "111111" if totp_code(device) != "111111" else "222222"
    for _ in range(settings.THROTTLE_FREE_FAILURES):
        client.post("/helpdesk/login/code", {"code": wrong})
    response = client.post("/helpdesk/login/code", {"code": totp_code(device)})
    assert "Trop d'essais infructueux" in page_text(response)
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(
        kind=AuditEvent.Kind.STAFF_TOTP_FAILED, actor=agent
    ).count() == (settings.THROTTLE_FREE_FAILURES)


def test_code_step_expires(client: Client, make_staff: Any) -> None:
    from datetime import timedelta

    from ent.core import clock

    agent = make_staff("agent")
    client.post("/helpdesk/login", {"username": agent.username, "password": STAFF_PASSWORD})
    clock.advance(timedelta(minutes=11))
    response = client.get("/helpdesk/login/code")
    assert response["Location"] == "/helpdesk/login"


def test_enrolment_with_qr_code(client: Client, make_staff: Any) -> None:
    agent = make_staff("agent", device=False)
    response = client.post(
        "/helpdesk/login", {"username": agent.username, "password": STAFF_PASSWORD}
    )
    assert response["Location"] == "/helpdesk/login/enrol"
    assert client.get("/helpdesk/").status_code == 302  # not before enrolment
    page = page_text(client.get("/helpdesk/login/enrol"))
    assert "<svg" in page and "<title" in page  # the QR code, inline, with a text alternative
    device = TOTPDevice.objects.get(user=agent)
    assert not device.confirmed
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode().rstrip("=")
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in page
    assert page_text(client.get("/helpdesk/login/enrol")).count(secret[:4]) >= 1
    assert TOTPDevice.objects.filter(user=agent).count() == 1  # same device on reload

    response = client.post("/helpdesk/login/enrol", {"code": "12345"})
    assert "Code incorrect" in page_text(response)
    response = client.post("/helpdesk/login/enrol", {"code": totp_code(device)})
    assert response.status_code == 302 and response["Location"] == "/helpdesk/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/helpdesk/").status_code == 200
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.STAFF_TOTP_ENROLLED, actor=agent).exists()


def test_enrolled_staff_cannot_enrol_again(client: Client, make_staff: Any) -> None:
    agent = make_staff("agent")
    client.post("/helpdesk/login", {"username": agent.username, "password": STAFF_PASSWORD})
    response = client.get("/helpdesk/login/enrol")
    assert response["Location"] == "/helpdesk/login/code"


def test_staff_sign_in_helper_signs_in(client: Client, make_staff: Any) -> None:
    agent = make_staff("agent")
    staff_sign_in(client, agent)
    assert client.get("/helpdesk/").status_code == 200


# 25 examples x 2 wrong codes stay under the per-address limit (the database is not reset
# between examples, so the counters add up).
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(code=st.text(max_size=40) | st.sampled_from(["", " ", "12 34 56", "１２３４５６", "9" * 40]))
def test_code_forms_never_500(client: Client, make_staff: Any, code: str) -> None:
    """Whatever is typed in the code fields (sign-in and enrolment), never a server error."""
    agent = make_staff("agent")
    newcomer = make_staff("agent", device=False)
    for account, path in ((agent, "/helpdesk/login/code"), (newcomer, "/helpdesk/login/enrol")):
        fresh = Client()
        fresh.post("/helpdesk/login", {"username": account.username, "password": STAFF_PASSWORD})
        response = fresh.post(path, {"code": code})
        assert response.status_code < 500, (path, code)


def test_password_and_totp_runs_are_apart(make_staff: Any) -> None:
    """Issue 13 §2 for staff: a right password never ends the run of wrong TOTP codes, and a
    right TOTP code never ends the run of wrong passwords."""
    from ent.helpdesk import auth

    first, second = make_staff("agent"), make_staff("agent")
    for _ in range(4):
        auth.staff_totp_check(account=first, code="000000", ip=None)
    ok = auth.staff_password_check(username=first.username, password=STAFF_PASSWORD, ip=None)
    assert ok.status is auth.StaffLoginStatus.OK
    assert auth.staff_totp_check(account=first, code="000000", ip=None).retry_at is not None

    for _ in range(4):
        auth.staff_password_check(username=second.username, password="Wrong.Pass2026", ip=None)
    device = auth.confirmed_device(second)
    assert device is not None
    assert auth.staff_totp_check(account=second, code=totp_code(device), ip=None).device
    wrong = auth.staff_password_check(username=second.username, password="Wrong.Pass2026", ip=None)
    assert wrong.retry_at is not None
