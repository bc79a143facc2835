"""Search, the account page and the account actions of the help desk."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from ent.accounts.models import Account, AccountSession
from ent.core.models import AuditEvent
from tests.conftest import GOOD_PASSWORD, page_text, start_activation

pytestmark = pytest.mark.django_db


def test_search_by_every_key(agent_client: Client, make_active_student: Any) -> None:
    ada = make_active_student(email="ada.perso@example.org", first_name="Ada", last_name="Lovelace")
    make_active_student(email="other@example.org", first_name="Alan", last_name="Turing")
    for query in (
        ada.student_number,
        ada.ine.lower(),
        "lovelace",
        "ada LOVELACE",
        ada.institutional_email.upper(),
        "ada.perso@example.org",
    ):
        page = page_text(agent_client.get("/helpdesk/search", {"q": query}))
        assert f"/helpdesk/students/{ada.pk}/" in page, query
        assert "Turing" not in page, query
    page = page_text(agent_client.get("/helpdesk/search", {"q": "nobody-like-this"}))
    assert "0 résultat" in page


def test_search_is_paginated(agent_client: Client, make_student: Any) -> None:
    for i in range(30):
        make_student(last_name=f"Curie{i:02d}")
    first = page_text(agent_client.get("/helpdesk/search", {"q": "curie"}))
    assert "30 résultats" in first and "Page 1 sur 2" in first
    second = page_text(agent_client.get("/helpdesk/search", {"q": "curie", "page": 2}))
    assert "Page 2 sur 2" in second and "Curie29" in second and "Curie29" not in first


def test_account_page_never_shows_codes_or_passwords(
    agent_client: Client, make_student: Any
) -> None:
    student = make_student(first_name="Marie", last_name="Curie")
    start_activation(student, "marie@example.org")
    code = mail.outbox[-1].body.split("code=")[1].split()[0]
    page = page_text(agent_client.get(f"/helpdesk/students/{student.pk}/"))
    assert "Marie Curie" in page and student.ine not in page and student.ine[-4:] in page
    assert "En attente de confirmation" in page
    assert "Activation du compte" in page and "marie@example.org" in page  # pending link listed
    assert code not in page
    account = Account.objects.get(student=student)
    assert account.password not in page
    assert "Activation : lien envoyé" in page  # audit history


def test_resend_activation(agent_client: Client, make_student: Any) -> None:
    student = make_student()
    start_activation(student, "pending@example.org")
    before = len(mail.outbox)
    response = agent_client.post(f"/helpdesk/students/{student.pk}/resend-activation", follow=True)
    assert "Un nouveau lien d'activation a été envoyé" in page_text(response)
    assert len(mail.outbox) == before + 1 and mail.outbox[-1].to == ["pending@example.org"]
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.HELPDESK_ACTIVATION_RESENT)
    assert event.actor == agent_client.staff and event.ip == "127.0.0.1"


def test_send_reset_link_to_verified_address_only(
    agent_client: Client, make_active_student: Any, make_student: Any
) -> None:
    student = make_active_student(email="verified@example.org")
    before = len(mail.outbox)
    response = agent_client.post(f"/helpdesk/students/{student.pk}/send-reset", follow=True)
    assert "Un lien de réinitialisation a été envoyé" in page_text(response)
    assert len(mail.outbox) == before + 1 and mail.outbox[-1].to == ["verified@example.org"]
    assert GOOD_PASSWORD not in mail.outbox[-1].body

    pending = make_student()
    start_activation(pending, "unverified@example.org")
    before = len(mail.outbox)
    response = agent_client.post(f"/helpdesk/students/{pending.pk}/send-reset", follow=True)
    assert "ne peut être envoyé qu'à un compte actif" in page_text(response)
    assert len(mail.outbox) == before


def test_send_reset_link_respects_the_hourly_limit(
    agent_client: Client, make_active_student: Any
) -> None:
    """The button is no way around the cap of reset links per account and hour."""
    from django.conf import settings

    student = make_active_student(email="verified@example.org")
    for _ in range(settings.PASSWORD_RESET_LINKS_PER_HOUR):
        response = agent_client.post(f"/helpdesk/students/{student.pk}/send-reset", follow=True)
        assert "Un lien de réinitialisation a été envoyé" in page_text(response)
    before = len(mail.outbox)
    response = agent_client.post(f"/helpdesk/students/{student.pk}/send-reset", follow=True)
    text = page_text(response)
    assert (
        f"déjà reçu {settings.PASSWORD_RESET_LINKS_PER_HOUR} liens de réinitialisation dans l"
        in text
    )
    assert "Un lien de réinitialisation a été envoyé" not in text
    assert len(mail.outbox) == before
    event = AuditEvent.objects.filter(kind=AuditEvent.Kind.PASSWORD_RESET_REQUESTED).latest("pk")
    assert event.data["outcome"] == "limit" and event.actor == agent_client.staff


def test_lock_ends_sessions_then_unlock(agent_client: Client, make_active_student: Any) -> None:
    student = make_active_student()
    account = Account.objects.get(student=student)
    student_client = Client()
    response = student_client.post(
        "/login", {"identifier": student.student_number, "password": GOOD_PASSWORD}
    )
    assert response.status_code == 302
    assert AccountSession.objects.filter(account=account).count() == 1
    page = page_text(agent_client.get(f"/helpdesk/students/{student.pk}/"))
    assert "Sessions ouvertes" in page and "127.0.0.1" in page

    response = agent_client.post(f"/helpdesk/students/{student.pk}/lock", follow=True)
    assert "Le compte est bloqué" in page_text(response)
    account.refresh_from_db()
    assert account.state == Account.State.LOCKED
    assert not AccountSession.objects.filter(account=account).exists()
    assert "Se déconnecter" not in page_text(student_client.get("/"))  # signed out
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.HELPDESK_ACCOUNT_LOCKED)
    assert event.actor == agent_client.staff and event.student == student and event.ip

    response = agent_client.post(f"/helpdesk/students/{student.pk}/lock", follow=True)
    assert "Seul un compte actif peut être bloqué" in page_text(response)

    agent_client.post(f"/helpdesk/students/{student.pk}/unlock")
    account.refresh_from_db()
    assert account.state == Account.State.ACTIVE
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.HELPDESK_ACCOUNT_UNLOCKED).exists()


def test_lock_revokes_open_codes(agent_client: Client, make_active_student: Any) -> None:
    """A reset or address-change link mailed before the lock is dead after the unlock."""
    from ent.accounts import email_change, password_reset
    from ent.core.models import OneTimeCode

    student = make_active_student()
    account = Account.objects.get(student=student)
    assert password_reset.password_reset_send(account=account, actor=None, ip=None)
    email_change.email_change_start(account=account, new_email="x@example.org", actor=None, ip=None)
    open_codes = OneTimeCode.objects.filter(
        account=account, used_at__isnull=True, revoked_at__isnull=True
    )
    assert open_codes.count() == 2
    agent_client.post(f"/helpdesk/students/{student.pk}/lock")
    agent_client.post(f"/helpdesk/students/{student.pk}/unlock")
    account.refresh_from_db()
    assert account.state == Account.State.ACTIVE
    assert open_codes.count() == 0
    assert OneTimeCode.objects.filter(account=account, revoked_at__isnull=False).count() == 2


def test_end_sessions(agent_client: Client, make_active_student: Any) -> None:
    student = make_active_student()
    student_client = Client()
    student_client.post("/login", {"identifier": student.student_number, "password": GOOD_PASSWORD})
    agent_client.post(f"/helpdesk/students/{student.pk}/end-sessions")
    assert not AccountSession.objects.filter(account__student=student).exists()
    assert AuditEvent.objects.get(kind=AuditEvent.Kind.HELPDESK_SESSIONS_ENDED).data == {
        "sessions": 1
    }


def test_administrator_disables(admin_client: Client, make_active_student: Any) -> None:
    student = make_active_student()
    response = admin_client.post(f"/helpdesk/students/{student.pk}/disable", follow=True)
    assert "Le compte est désactivé" in page_text(response)
    assert Account.objects.get(student=student).state == Account.State.DISABLED
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.HELPDESK_ACCOUNT_DISABLED)
    assert event.actor == admin_client.staff
    assert (
        Client()
        .post("/login", {"identifier": student.student_number, "password": GOOD_PASSWORD})
        .status_code
        == 200
    )  # refused


def test_unknown_action_and_student(agent_client: Client, make_active_student: Any) -> None:
    student = make_active_student()
    assert agent_client.post(f"/helpdesk/students/{student.pk}/explode").status_code == 404
    assert agent_client.get("/helpdesk/students/999999/").status_code == 404
    assert agent_client.post("/helpdesk/students/999999/lock").status_code == 404


def test_search_tells_namesakes_apart(agent_client: Client, make_student: Any) -> None:
    """Two Blaise Pascal: the results show birth date and programme (issue 13)."""
    from datetime import date

    older = make_student(birth_date=date(2001, 3, 4), program="Licence Mathématiques")
    younger = make_student(birth_date=date(2005, 11, 12), program="Master Physique")
    page = page_text(agent_client.get("/helpdesk/search", {"q": "pascal blaise"}))
    assert "2 résultats" in page
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert len(rows) == 2
    by_pk = {s.pk: s for s in (older, younger)}
    for row in rows:
        (pk,) = [pk for pk in by_pk if f"/helpdesk/students/{pk}/" in row]
        shown = by_pk.pop(pk)
        assert shown.student_number in row and shown.program in row
        assert f'<time datetime="{shown.birth_date.isoformat()}">' in row
