"""Signing in at /login."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from ent.accounts import identity
from ent.accounts.models import Account
from ent.core import clock
from ent.core.models import AuditEvent
from ent.sso.services import LoginStatus, login_attempt
from tests.conftest import GOOD_PASSWORD, page_text, start_activation

pytestmark = pytest.mark.django_db


def login(client: Client, identifier: str, password: str) -> Any:
    return client.post("/login", {"identifier": identifier, "password": password})


def test_success_greets_and_rotates_session(
    client: Client, active_student: Any, settings: Any
) -> None:
    session = client.session  # a session that exists before login
    session["probe"] = 1
    session.save()
    before = session.session_key
    response = login(client, active_student.student_number, GOOD_PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    page = page_text(client.get("/"))
    assert "Bonjour Sophie Germain" in page and active_student.institutional_email in page
    assert (
        AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN_OK, student=active_student).count()
        == 1
    )


def test_institutional_address_accepted(client: Client, active_student: Any) -> None:
    response = login(client, active_student.institutional_email.upper(), GOOD_PASSWORD)
    assert response.status_code == 302


def test_failure_message_same_for_unknown(client: Client, active_student: Any) -> None:
    wrong = page_text(login(client, active_student.student_number, "Wrong.Pass2026"))
    unknown = page_text(login(client, "29999999", "Wrong.Pass2026"))
    assert "Identifiant ou mot de passe incorrect." in wrong
    assert "Identifiant ou mot de passe incorrect." in unknown
    assert "_auth_user_id" not in client.session


def test_ine_never_a_password_once_active(client: Client, active_student: Any) -> None:
    """The guide's first step repeated after activation (issue 13 §6): no session, and the
    page says what the activation page says for the same pair, with the reset link."""
    response = login(client, active_student.student_number, active_student.ine)
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    page = page_text(response)
    assert "Votre compte est déjà activé : votre code INE n'est plus votre mot de passe." in page
    assert 'href="/password/reset/"' in response.content.decode().split('id="login-ine-notice"')[1]
    assert "incorrect" not in page
    # A wrong password (not the INE) still gets the usual answer, without the notice.
    response = login(client, active_student.student_number, "Wrong.Pass2026")
    assert "Identifiant ou mot de passe incorrect." in page_text(response)
    assert "login-ine-notice" not in response.content.decode()


def test_ine_before_activation_leads_to_step_two(client: Client, make_student: Any) -> None:
    student = make_student()
    response = login(client, student.student_number, student.ine)
    assert response.status_code == 302 and response["Location"] == "/activation/details/"
    assert "_auth_user_id" not in client.session
    assert "Bonjour Blaise Pascal" in page_text(client.get("/activation/details/"))


def test_pending_account_is_led_to_resend(client: Client, make_student: Any) -> None:
    student = make_student()
    start_activation(student, "blaise@example.org")
    wrong = login(client, student.student_number, "Wrong.Pass2026")
    assert "incorrect" in page_text(wrong)
    response = login(client, student.student_number, GOOD_PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/activation/sent/"
    assert "_auth_user_id" not in client.session
    page = page_text(client.get("/activation/sent/"))
    assert "pas encore activé" in page and "bl…e@example.org" in page
    # The INE still leads to step 2, with the address given before.
    response = login(Client(), student.student_number, student.ine)
    assert response["Location"] == "/activation/details/"


def test_wrong_ines_at_login_and_activation_count_together(make_student: Any) -> None:
    """/login checks the INE of a student who has not activated: its wrong guesses count on
    the INE's counter with activation's, so the two forms share one daily cap of INE guesses.
    While that counter blocks, /login does not check the INE (and says nothing more)."""
    student = make_student()
    for _ in range(3):
        login_attempt(identifier=student.student_number, password="nope", ip=None)
    for _ in range(2):
        identity.student_identify(
            student.student_number,
            "999999999ZZ",
            client=identity.Client(ip=None),
            purpose=identity.Purpose.ACTIVATION,
        )
    assert (
        identity.student_identify(
            student.student_number,
            student.ine,
            client=identity.Client(ip=None),
            purpose=identity.Purpose.ACTIVATION,
        ).status
        is identity.IdentifyStatus.THROTTLED
    )
    result = login_attempt(identifier=student.student_number, password=student.ine, ip=None)
    assert result.status is LoginStatus.FAILED  # the right INE, not checked while blocked
    clock.advance(timedelta(seconds=61 * 2 + 1))
    assert (
        login_attempt(identifier=student.student_number, password=student.ine, ip=None).status
        is LoginStatus.ACTIVATE
    )


def test_throttling_login(client: Client, active_student: Any) -> None:
    for _ in range(5):
        response = login(client, active_student.student_number, "Wrong.Pass2026")
    assert "Trop d'essais" in page_text(response)
    response = login(client, active_student.student_number, GOOD_PASSWORD)
    assert response.status_code == 200 and "Trop d'essais" in page_text(response)
    clock.advance(timedelta(seconds=61))
    assert login(client, active_student.student_number, GOOD_PASSWORD).status_code == 302


def test_unknown_identifiers_are_throttled_too(client: Client, db: None) -> None:
    for _ in range(5):
        login_attempt(identifier="29999999", password="x", ip=None)
    assert (
        login_attempt(identifier="29999999", password="x", ip=None).status is LoginStatus.THROTTLED
    )


def test_locked_account_told_to_contact_helpdesk(client: Client, active_student: Any) -> None:
    Account.objects.filter(student=active_student).update(state=Account.State.LOCKED)
    page = page_text(login(client, active_student.student_number, GOOD_PASSWORD))
    assert "bloqué" in page and "_auth_user_id" not in client.session


def test_locking_ends_sessions(client: Client, active_student: Any) -> None:
    login(client, active_student.student_number, GOOD_PASSWORD)
    assert "Bonjour" in page_text(client.get("/"))
    Account.objects.filter(student=active_student).update(state=Account.State.LOCKED)
    assert "Bonjour Sophie" not in page_text(client.get("/"))


def test_logout(client: Client, active_student: Any) -> None:
    login(client, active_student.student_number, GOOD_PASSWORD)
    assert client.get("/logout").status_code == 405  # a GET cannot log anybody out
    response = client.post("/logout")
    assert response.status_code == 302
    assert "Activer mon compte" in page_text(client.get("/"))


def test_next_must_stay_on_site(client: Client, active_student: Any) -> None:
    response = client.post(
        "/login",
        {
            "identifier": active_student.student_number,
            "password": GOOD_PASSWORD,
            "next": "https://evil.example.com/",
        },
    )
    assert response["Location"] == "/"


def test_anonymous_home_shows_the_four_entries(client: Client, db: None) -> None:
    page = page_text(client.get("/"))
    for entry in (
        "Documentation",
        "Activer mon compte",
        "J'ai oublié mon mot de passe",
        "Faire une demande de mise à jour",
    ):
        assert entry in page


def test_success_is_one_transaction(client: Client, active_student: Any) -> None:
    """The writes of a login (audit, session, index) commit together, once.

    ``Account.last_login`` is not written: nothing reads it (the sign-ins shown are the audit
    records and the session index), and it cost an UPDATE per sign-in.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ent.accounts.models import AccountSession

    with CaptureQueriesContext(connection) as queries:
        response = login(client, active_student.student_number, GOOD_PASSWORD)
    assert response.status_code == 302
    writes = [
        q["sql"].split()[0] for q in queries.captured_queries if not q["sql"].startswith("SELECT")
    ]
    # Outside a test transaction, the SAVEPOINTs below are the BEGIN and COMMIT.
    assert writes.count("INSERT") == 3 and writes.count("UPDATE") == 0, writes
    sessions_read = [
        q
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and "django_session" in q["sql"]
    ]
    assert not sessions_read  # no exists() check of the new key
    key = client.cookies["ent_session"].value
    assert AccountSession.objects.get(session_key=key).account == active_student.account
    assert client.session["_auth_user_id"] == str(active_student.account.pk)
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.LOGIN_OK, student=active_student)
    assert event.actor == active_student.account and event.data == {}
