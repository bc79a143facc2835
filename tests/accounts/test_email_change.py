"""``/account/email/`` and the verification link: the pages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from ent.accounts.models import Account
from ent.core import clock
from tests.accounts.selfservice import EMAIL_RE, code_in, outbox, signed_in
from tests.conftest import GOOD_PASSWORD, SMTPCatcher, page_text, text_body

pytestmark = pytest.mark.django_db


def ask(client: Client, email: str, password: str = GOOD_PASSWORD) -> Any:
    return client.post("/account/email/", {"email": email, "current_password": password})


def test_login_required(client: Client, db: None) -> None:
    assert client.get("/account/email/")["Location"].startswith("/login")


def test_change_verified_by_link_and_old_address_told(
    active_student: Any, smtp_server: SMTPCatcher
) -> None:
    client = signed_in(active_student)
    assert "Adresse actuelle : sophie@example.org" in page_text(client.get("/account/email/"))
    response = ask(client, "sophie.germain@example.net")
    assert response.status_code == 302 and response["Location"] == "/account/"
    profile = page_text(client.get("/account/"))
    assert "Un lien de confirmation a été envoyé à sophie.germain@example.net" in profile
    assert "En attente de confirmation : sophie.germain@example.net" in profile
    assert Account.objects.get(student=active_student).personal_email == "sophie@example.org"

    verify = smtp_server.wait_for(1)[0]
    assert verify["To"] == "sophie.germain@example.net"
    code = code_in(text_body(verify), EMAIL_RE)
    phone = Client()  # the link is often opened elsewhere, signed out
    redirect = phone.get(f"/account/email/confirm?code={code}")
    assert redirect.status_code == 302 and redirect["Location"] == "/account/email/confirm"
    assert redirect["Referrer-Policy"] == "no-referrer"
    page = phone.get("/account/email/confirm")
    assert page.status_code == 200 and code not in page.content.decode()
    assert page["Referrer-Policy"] == "same-origin"
    done = phone.post("/account/email/confirm")
    assert done.status_code == 200
    assert "Votre nouvelle adresse est confirmée" in page_text(done)
    account = Account.objects.get(student=active_student)
    assert account.personal_email == "sophie.germain@example.net"
    assert account.personal_email_verified_at is not None
    notice = smtp_server.wait_for(2)[1]
    assert notice["To"] == "sophie@example.org"
    assert "so…n@example.net" in text_body(notice)
    again = Client()
    again.get(f"/account/email/confirm?code={code}")
    assert again.post("/account/email/confirm").status_code == 400


def test_wrong_password_sends_nothing(active_student: Any) -> None:
    client = signed_in(active_student)
    before = len(outbox())
    response = ask(client, "new@example.org", password="Pas.Le.Bon2026")
    assert response.status_code == 200
    assert "Mot de passe incorrect." in page_text(response)
    assert len(outbox()) == before


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("pas-une-adresse", "Adresse mail invalide"),
        ("sophie@etudiant.univ-perp.fr", "pas votre adresse de l'université"),
        ("", "Ce champ est obligatoire"),
    ],
)
def test_bad_address(active_student: Any, email: str, message: str) -> None:
    client = signed_in(active_student)
    response = ask(client, email)
    assert response.status_code == 200
    assert message in page_text(response)


@pytest.mark.parametrize("case", ["expired", "unknown", "missing"])
def test_bad_links(active_student: Any, case: str) -> None:
    client = signed_in(active_student)
    ask(client, "later@example.org")
    code = code_in(outbox()[-1].body, EMAIL_RE)
    if case == "expired":
        clock.advance(timedelta(hours=25))
    if case == "unknown":
        code = "Q" * 20
    browser = Client()
    if case != "missing":
        browser.get(f"/account/email/confirm?code={code}")
    page = browser.get("/account/email/confirm")
    assert page.status_code == 400
    expected = "Ce lien a expiré" if case == "expired" else "Lien inconnu"
    assert expected in page_text(page)
    assert browser.post("/account/email/confirm").status_code == 400
    assert Account.objects.get(student=active_student).personal_email == "sophie@example.org"


def test_student_requests_limited_per_hour(active_student: Any) -> None:
    from django.conf import settings

    client = signed_in(active_student)
    for n in range(settings.EMAIL_CHANGE_LINKS_PER_HOUR):
        assert ask(client, f"try{n}@example.org").status_code == 302
    before = len(outbox())
    response = ask(client, "one-more@example.org")
    assert response.status_code == 429
    assert "plusieurs liens de confirmation dans l'heure" in page_text(response)
    assert len(outbox()) == before
    # The help desk is not limited (it acts on a checked request).
    from ent.accounts import email_change

    staff = Account.objects.create_user("agent", "Agent.Helpdesk2026")
    email_change.email_change_start(
        account=active_student.account, new_email="checked@example.org", actor=staff, ip=None
    )
    assert outbox()[-1].to == ["checked@example.org"]
    clock.advance(timedelta(hours=1, seconds=1))
    assert ask(client, "later@example.org").status_code == 302


def test_link_page_guesses_are_throttled(client: Client, active_student: Any) -> None:
    """The link page answers whether a code exists: guesses are throttled per address."""
    from ent.accounts import email_change

    for n in range(50):
        client.get("/account/email/confirm", {"code": f"{n:020d}"})
        assert client.get("/account/email/confirm").status_code == 400
    email_change.email_change_start(
        account=active_student.account, new_email="new@example.org", actor=None, ip=None
    )
    code = code_in(outbox()[-1].body, EMAIL_RE)
    client.get("/account/email/confirm", {"code": code})
    response = client.get("/account/email/confirm")
    assert response.status_code == 429
    assert "Trop de tentatives" in page_text(response)
    other = Client(REMOTE_ADDR="192.0.2.55")
    other.get("/account/email/confirm", {"code": code})
    assert other.get("/account/email/confirm").status_code == 200
