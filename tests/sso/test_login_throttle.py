"""Throttling of /login (issue 13 §2 and §3): a counter per secret, and device cookies.

§2: a right INE (activation, update request) ends the INE's run of failures, never the
password's. §3 (OWASP device cookies): a browser where the student signed in is counted apart
from "untrusted clients", so a stranger who knows the student number cannot lock the student
out of their usual browser. Each test runs on both stores (database, Redis).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import signing
from django.test import Client

from ent.core import clock, throttle
from ent.core.models import AuditEvent
from ent.sso import devices
from tests.conftest import GOOD_PASSWORD, SMTPCatcher, page_text

pytestmark = pytest.mark.django_db

WRONG = "Wrong.Pass2026"
THROTTLED = "Trop d'essais"


def login(client: Client, student: Any, password: str) -> Any:
    return client.post("/login", {"identifier": student.student_number, "password": password})


def signed_in(response: Any) -> bool:
    return bool(response.status_code == 302 and response["Location"] == "/")


def device_client(student: Any) -> Client:
    """The student's usual browser: signed in once (it holds a device cookie), then out."""
    client = Client()
    assert signed_in(login(client, student, GOOD_PASSWORD))
    assert settings.DEVICE_COOKIE_NAME in client.cookies
    client.post("/logout")
    return client


def exhaust_untrusted(student: Any) -> None:
    """An attacker on another machine types 25 wrong passwords in a day, waiting out each
    delay: the CNIL cap. Then every untrusted client is refused for the rest of the day."""
    attacker = Client(REMOTE_ADDR="192.0.2.66")
    for count in range(1, settings.THROTTLE_MAX_FAILURES_PER_DAY + 1):
        page = page_text(login(attacker, student, WRONG))
        assert "Identifiant ou mot de passe incorrect." in page, count  # counted, not refused
        wait = timedelta(minutes=61) if count >= settings.THROTTLE_FREE_FAILURES else timedelta()
        clock.advance(wait)
    # The delays are over; the daily cap is not: the right password is refused too.
    assert THROTTLED in page_text(login(attacker, student, WRONG))
    assert THROTTLED in page_text(login(Client(REMOTE_ADDR="192.0.2.67"), student, GOOD_PASSWORD))


# --- §2: one secret's success never clears another secret's failures ---------------------------


def test_a_right_ine_at_activation_does_not_end_the_password_run(
    shared_state: str, active_student: Any
) -> None:
    attacker = Client()
    for _ in range(4):
        assert THROTTLED not in page_text(login(attacker, active_student, WRONG))
    identify = attacker.post(
        "/activation/",
        {"student_number": active_student.student_number, "ine": active_student.ine},
    )
    assert "Votre compte est déjà activé" in page_text(identify)
    # The 5th wrong password in a row is delayed, as if the INE had not been given.
    assert THROTTLED in page_text(login(attacker, active_student, WRONG))
    assert THROTTLED in page_text(login(attacker, active_student, GOOD_PASSWORD))


def test_a_right_ine_at_update_request_does_not_end_the_password_run(
    shared_state: str, active_student: Any, smtp_server: SMTPCatcher
) -> None:
    attacker = Client()
    for _ in range(4):
        login(attacker, active_student, WRONG)
    response = attacker.post(
        "/update-request/",
        {
            "student_number": active_student.student_number,
            "ine": active_student.ine,
            "kind": "other",
            "message": "Mon programme n'est pas le bon.",
            "contact_email": "joignable@example.org",
        },
    )
    assert response.status_code == 302  # identified: the request is filed
    assert THROTTLED in page_text(login(attacker, active_student, WRONG))


def test_a_right_password_does_not_end_the_ine_run(shared_state: str, active_student: Any) -> None:
    number = active_student.student_number
    for _ in range(4):
        Client().post("/activation/", {"student_number": number, "ine": "999999999ZZ"})
    assert signed_in(login(Client(), active_student, GOOD_PASSWORD))
    page = page_text(Client().post("/activation/", {"student_number": number, "ine": "99999999ZZ"}))
    assert THROTTLED in page


def test_the_ine_typed_at_login_is_a_wrong_password_and_resets_nothing(
    shared_state: str, active_student: Any
) -> None:
    """§6: the notice for the INE of an active account; still a failure, on the password's
    counter, and neither the password's run nor the INE's ends."""
    client = Client()
    for _ in range(3):
        login(client, active_student, WRONG)
    page = page_text(login(client, active_student, active_student.ine))
    assert "votre code INE n'est plus votre mot de passe" in page
    number = active_student.student_number
    reading = throttle.read((throttle.password_policy(), number), (throttle.ine_policy(), number))
    assert reading.runs == (4, 3)  # the INE given is right: not a wrong INE, not a reset
    assert THROTTLED in page_text(login(client, active_student, WRONG))  # the 5th in a row


# --- §3: device cookies -------------------------------------------------------------------------


def test_the_device_cookie_is_signed_bound_and_flagged(active_student: Any) -> None:
    client = Client()
    login(client, active_student, GOOD_PASSWORD)
    cookie = client.cookies[settings.DEVICE_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert cookie["max-age"] == settings.DEVICE_COOKIE_DAYS * 24 * 3600
    account = active_student.account
    assert devices.device_id(cookie.value, account) is not None
    # A new device id at every sign-in (OWASP: a new cookie for each successful sign-in).
    client.post("/logout")
    login(client, active_student, GOOD_PASSWORD)
    assert client.cookies[settings.DEVICE_COOKIE_NAME].value != cookie.value


def test_attacker_exhausting_untrusted_clients_does_not_lock_the_students_browser(
    shared_state: str, active_student: Any
) -> None:
    student = device_client(active_student)
    exhaust_untrusted(active_student)  # every untrusted client refused for the day…
    # …but the student's usual browser signs in.
    assert signed_in(login(student, active_student, GOOD_PASSWORD))


def test_a_device_has_its_own_delay_and_is_revoked_at_its_cap(
    shared_state: str, active_student: Any
) -> None:
    student = device_client(active_student)
    number = active_student.student_number
    for _ in range(4):
        login(student, active_student, WRONG)
    # The 5th failure delays this browser only: an untrusted client still signs in.
    assert THROTTLED in page_text(login(student, active_student, WRONG))
    assert THROTTLED in page_text(login(student, active_student, GOOD_PASSWORD))
    assert throttle.read((throttle.password_policy(), number)).runs == (0,)
    other = Client()
    assert signed_in(login(other, active_student, GOOD_PASSWORD))
    other.post("/logout")
    # Up to the device's cap (counted over the cookie's life): then the cookie is revoked.
    for _ in range(settings.THROTTLE_MAX_FAILURES_PER_DAY - 5):
        clock.advance(timedelta(hours=1, seconds=1))
        login(student, active_student, WRONG)
    clock.advance(timedelta(hours=1, seconds=1))
    # Revoked: the browser is an untrusted client again, its failures counted there.
    assert "Identifiant ou mot de passe incorrect." in page_text(
        login(student, active_student, WRONG)
    )
    assert throttle.read((throttle.password_policy(), number)).runs == (1,)
    # The right password from it works (untrusted clients are not blocked) and brings a new
    # device cookie with a fresh counter.
    assert signed_in(login(student, active_student, GOOD_PASSWORD))
    fresh = student.cookies[settings.DEVICE_COOKIE_NAME].value
    assert devices.device_id(fresh, active_student.account) is not None
    student.post("/logout")
    assert "Identifiant ou mot de passe incorrect." in page_text(
        login(student, active_student, WRONG)
    )
    assert throttle.read((throttle.password_policy(), number)).runs == (0,)  # on the device


def _with_cookie(value: str) -> Client:
    client = Client()
    client.cookies[settings.DEVICE_COOKIE_NAME] = value
    return client


def test_forged_foreign_and_expired_cookies_are_untrusted(
    shared_state: str, active_student: Any, make_active_student: Any
) -> None:
    other_student = make_active_student(email="other@example.org")
    genuine = device_client(active_student).cookies[settings.DEVICE_COOKIE_NAME].value
    foreign = device_client(other_student).cookies[settings.DEVICE_COOKIE_NAME].value
    forged = signing.dumps(
        {"a": active_student.account.pk, "d": "f" * 32, "t": int(clock.now().timestamp())},
        salt="not-the-device-salt",
    )
    exhaust_untrusted(active_student)
    for value in (forged, foreign, genuine[:-2] + "xx", "garbage"):
        assert THROTTLED in page_text(login(_with_cookie(value), active_student, GOOD_PASSWORD))
    assert signed_in(login(_with_cookie(genuine), active_student, GOOD_PASSWORD))
    # Expired: the same cookie after its lifetime is an untrusted client's (its wrong password
    # counts with the untrusted clients', whose run the attacker left at 25).
    number = active_student.student_number
    clock.advance(timedelta(days=settings.DEVICE_COOKIE_DAYS, seconds=1))
    assert devices.device_id(genuine, active_student.account) is None
    login(_with_cookie(genuine), active_student, WRONG)
    assert throttle.read((throttle.password_policy(), number)).runs == (26,)


def test_failures_on_a_device_are_audited_with_its_id(active_student: Any) -> None:
    student = device_client(active_student)
    device = devices.device_id(
        student.cookies[settings.DEVICE_COOKIE_NAME].value, active_student.account
    )
    login(student, active_student, WRONG)
    event = AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN_FAILED).get()
    assert event.data == {"device": device}


def test_the_per_address_limit_still_holds_for_devices(
    shared_state: str, active_student: Any, settings: Any
) -> None:
    settings.THROTTLE_IP_FAILURES_PER_HOUR = 10
    student = device_client(active_student)
    for i in range(10):  # ten numbers, one guess each, from the student's own address
        Client().post("/login", {"identifier": f"2999999{i}", "password": WRONG})
    assert THROTTLED in page_text(login(student, active_student, GOOD_PASSWORD))


# --- The help desk sees which side is blocked, and lifts it -------------------------------------


def test_helpdesk_shows_and_lifts_the_untrusted_block(
    shared_state: str, agent_client: Client, active_student: Any
) -> None:
    url = f"/helpdesk/students/{active_student.pk}/"
    assert "Aucune : le mot de passe peut être essayé" in page_text(agent_client.get(url))
    exhaust_untrusted(active_student)
    page = page_text(agent_client.get(url))
    assert "Navigateurs non reconnus (sans cookie d'appareil) : bloqués jusqu'au" in page
    assert "Appareil reconnu" not in page
    # A POST with CSRF (the test client skips the check; the form carries the token).
    assert 'name="csrfmiddlewaretoken"' in page.split('class="sign-in-blocks"')[1].split("</ul>")[0]
    assert agent_client.get(f"/helpdesk/students/{active_student.pk}/unblock").status_code == 405
    response = agent_client.post(f"/helpdesk/students/{active_student.pk}/unblock", follow=True)
    assert "Le blocage des connexions est levé." in page_text(response)
    assert signed_in(login(Client(REMOTE_ADDR="192.0.2.67"), active_student, GOOD_PASSWORD))
    event = AuditEvent.objects.filter(kind=AuditEvent.Kind.HELPDESK_THROTTLE_LIFTED).get()
    assert event.actor == agent_client.staff and event.data == {"side": "untrusted"}  # type: ignore[attr-defined]


def test_helpdesk_shows_and_lifts_a_device_block(
    shared_state: str, agent_client: Client, active_student: Any
) -> None:
    student = device_client(active_student)
    device = devices.device_id(
        student.cookies[settings.DEVICE_COOKIE_NAME].value, active_student.account
    )
    assert device is not None
    for _ in range(5):
        login(student, active_student, WRONG)
    url = f"/helpdesk/students/{active_student.pk}/"
    page = page_text(agent_client.get(url))
    assert f"Appareil reconnu {device[:8]}… : bloqué jusqu'au" in page
    assert "Navigateurs non reconnus" not in page  # the untrusted clients are not blocked
    agent_client.post(f"/helpdesk/students/{active_student.pk}/unblock", {"device": device})
    assert signed_in(login(student, active_student, GOOD_PASSWORD))
    assert "Aucune : le mot de passe peut être essayé" in page_text(agent_client.get(url))
    event = AuditEvent.objects.filter(kind=AuditEvent.Kind.HELPDESK_THROTTLE_LIFTED).get()
    assert event.data == {"side": "device", "device": device}


def test_helpdesk_shows_a_revoked_device(
    shared_state: str, agent_client: Client, active_student: Any
) -> None:
    student = device_client(active_student)
    for _ in range(settings.THROTTLE_MAX_FAILURES_PER_DAY):
        login(student, active_student, WRONG)
        clock.advance(timedelta(hours=1, seconds=1))
    page = page_text(agent_client.get(f"/helpdesk/students/{active_student.pk}/"))
    assert "révoqué (trop d'échecs), traité comme un navigateur non reconnu" in page


def test_students_cannot_lift_blocks(client: Client, active_student: Any) -> None:
    assert signed_in(login(client, active_student, GOOD_PASSWORD))
    response = client.post(f"/helpdesk/students/{active_student.pk}/unblock")
    assert response.status_code in (302, 403)
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.HELPDESK_THROTTLE_LIFTED).exists()


def test_device_cookies_add_no_query_to_the_sign_in(active_student: Any) -> None:
    """The fast path stays as it was: the device's counter is read in the same statement as
    the others, and issuing a cookie writes nothing."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = Client()
    counts = []
    for _ in range(2):  # without a device cookie, then with the one the first sign-in gave
        with CaptureQueriesContext(connection) as queries:
            assert signed_in(login(client, active_student, GOOD_PASSWORD))
        counts.append(len(queries.captured_queries))
        client.post("/logout")
    assert counts[0] == counts[1] == 7  # as before device cookies (measured on the old code)
