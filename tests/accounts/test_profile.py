"""``/account/``: the profile page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ent.accounts.models import Account
from tests.accounts.selfservice import signed_in
from tests.conftest import page_text

pytestmark = pytest.mark.django_db


def test_login_required(client: Client, db: None) -> None:
    response = client.get("/account/")
    assert response.status_code == 302 and response["Location"] == "/login?next=/account/"


def test_profile_shows_what_the_university_knows(active_student: Any, settings: Any) -> None:
    for _ in range(2):
        signed_in(active_student)
    client = signed_in(active_student)
    response = client.get("/account/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    text = page_text(response)
    for expected in (
        "Germain",
        "Sophie",
        active_student.student_number,
        active_student.institutional_email,
        "sophie@example.org",
        "vérifiée le",
        f"version {settings.CHARTER_VERSION}, acceptée le",
        "Changer mon mot de passe",
        "Changer mon adresse personnelle",
    ):
        assert expected in text, expected
    html = response.content.decode()
    assert 'href="/update-request/"' in html
    assert html.count("<td>127.0.0.1</td>") == 3  # three sign-ins, with their address


def test_unverified_address_and_at_most_ten_logins(active_student: Any) -> None:
    Account.objects.filter(student=active_student).update(personal_email_verified_at=None)
    for _ in range(11):
        client = signed_in(active_student)
    text = page_text(client.get("/account/"))
    assert "non vérifiée" in text
    assert client.get("/account/").content.decode().count("<td>127.0.0.1</td>") == 10


def test_staff_profile_refused(client: Client, db: None) -> None:
    """The self-service is the students': a staff session gets 403 (see test_password_reset)."""
    staff = Account.objects.create_user("agent", "Agent.Helpdesk2026")
    client.force_login(staff)
    assert client.get("/account/").status_code == 403
