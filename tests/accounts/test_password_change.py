"""``/account/password/``: the signed-in password change page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ent.accounts.models import Account, AccountSession
from ent.accounts.sessions import sessions_active
from tests.accounts.selfservice import NEW_PASSWORD, is_signed_in, signed_in
from tests.conftest import GOOD_PASSWORD, SMTPCatcher, page_text, text_body

pytestmark = pytest.mark.django_db


def change(
    client: Client, current: str = GOOD_PASSWORD, new: str = NEW_PASSWORD, **extra: Any
) -> Any:
    data = {"current_password": current, "password1": new, "password2": new, **extra}
    return client.post("/account/password/", data)


def test_login_required(client: Client, db: None) -> None:
    response = client.get("/account/password/")
    assert response.status_code == 302 and response["Location"].startswith("/login")


def test_change_keeps_this_browser_and_ends_the_others(
    active_student: Any, smtp_server: SMTPCatcher
) -> None:
    here, other = signed_in(active_student), signed_in(active_student)
    page = here.get("/account/password/")
    assert page.status_code == 200
    assert 'id="password-checklist"' in page.content.decode()
    response = change(here)
    assert response.status_code == 302 and response["Location"] == "/account/"
    assert "Vos autres sessions ont été fermées (1)" in page_text(here.get("/account/"))
    assert is_signed_in(here)
    assert not is_signed_in(other)
    account = Account.objects.get(student=active_student)
    assert account.check_password(NEW_PASSWORD)
    # The session index follows this browser's new session key.
    assert [s.session_key for s in sessions_active(account)] == [here.session.session_key]
    notice = smtp_server.wait_for(1)[0]
    assert notice["Subject"] == "Votre mot de passe a été modifié"
    assert notice["To"] == "sophie@example.org"
    assert NEW_PASSWORD not in text_body(notice) and GOOD_PASSWORD not in text_body(notice)


def test_wrong_current_password(active_student: Any) -> None:
    client = signed_in(active_student)
    response = change(client, current="Pas.Le.Bon2026")
    assert response.status_code == 200
    assert "Mot de passe incorrect." in page_text(response)
    assert Account.objects.get(student=active_student).check_password(GOOD_PASSWORD)


def test_wrong_current_password_throttled_with_a_delay(active_student: Any, settings: Any) -> None:
    client = signed_in(active_student)
    for _ in range(settings.THROTTLE_FREE_FAILURES):
        response = change(client, current="Pas.Le.Bon2026")
    assert "Vous pourrez réessayer dans" in page_text(response)
    response = change(client)
    assert "Vous pourrez réessayer dans" in page_text(response)
    assert Account.objects.get(student=active_student).check_password(GOOD_PASSWORD)


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("court", "au moins 8 caractères"),
        (GOOD_PASSWORD, "différent de votre mot de passe actuel"),
        ("Germain.2026!", "ni votre nom ou prénom"),
        ("Mot passe.2026", "espace"),
    ],
)
def test_policy(active_student: Any, new: str, message: str) -> None:
    client = signed_in(active_student)
    response = change(client, new=new)
    assert response.status_code == 200
    assert message in page_text(response)
    assert AccountSession.objects.filter(account__student=active_student).count() == 1


def test_mismatch(active_student: Any) -> None:
    client = signed_in(active_student)
    response = change(client, password2="Autre.Chose2026")
    assert "Les deux mots de passe ne sont pas identiques" in page_text(response)
