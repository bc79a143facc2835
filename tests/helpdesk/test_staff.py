"""Staff management (administrators): invitation, own password, role, TOTP reset, deactivation,
and the read-only settings page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from ent.accounts.models import Account
from ent.core.models import AuditEvent
from tests.conftest import SMTPCatcher, page_text, text_body, totp_code

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Nouvel.Agent2026"


def test_invited_staff_chooses_password_then_enrols(
    admin_client: Client, smtp_server: SMTPCatcher
) -> None:
    response = admin_client.post(
        "/helpdesk/staff/",
        {"username": "jdupont", "email": "j.dupont@univ-perp.fr", "role": "agent"},
        follow=True,
    )
    assert "Compte jdupont créé" in page_text(response)
    member = Account.objects.get(username="jdupont")
    assert member.is_staff and not member.has_usable_password()
    assert set(member.groups.values_list("name", flat=True)) == {"agent"}

    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "j.dupont@univ-perp.fr"
    body = text_body(message)
    link = re.search(r"https?://\S+/helpdesk/invite\?code=\S+", body)
    assert link, body
    assert "mot de passe" in body and NEW_PASSWORD not in body

    newcomer = Client()
    response = newcomer.get(link.group(0).replace("http://127.0.0.1:8000", ""))
    assert response["Location"] == "/helpdesk/invite"  # the code leaves the address bar
    page = page_text(newcomer.get("/helpdesk/invite"))
    assert "jdupont" in page
    response = newcomer.post("/helpdesk/invite", {"password1": "court", "password2": "court"})
    assert response.status_code == 200 and 'class="error-summary"' in page_text(response)
    response = newcomer.post(
        "/helpdesk/invite", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response["Location"] == "/helpdesk/login"
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.STAFF_PASSWORD_SET).exists()

    # The link served once.
    again = Client()
    again.get(link.group(0).replace("http://127.0.0.1:8000", ""))
    assert again.get("/helpdesk/invite").status_code == 400

    # First sign-in: enrolment.
    response = newcomer.post("/helpdesk/login", {"username": "jdupont", "password": NEW_PASSWORD})
    assert response["Location"] == "/helpdesk/login/enrol"
    newcomer.get("/helpdesk/login/enrol")
    device = TOTPDevice.objects.get(user=member)
    response = newcomer.post("/helpdesk/login/enrol", {"code": totp_code(device)})
    assert response["Location"] == "/helpdesk/"
    assert newcomer.get("/helpdesk/").status_code == 200


def test_duplicate_username_refused(admin_client: Client, make_staff: Any) -> None:
    existing = make_staff("agent")
    response = admin_client.post(
        "/helpdesk/staff/",
        {"username": existing.username, "email": "x@univ-perp.fr", "role": "agent"},
    )
    assert "Cet identifiant est déjà pris" in page_text(response)


def test_role_change_totp_reset_and_deactivation(admin_client: Client, make_staff: Any) -> None:
    agent = make_staff("agent")
    agent_client = Client()
    from tests.conftest import staff_sign_in

    staff_sign_in(agent_client, agent)
    assert agent_client.get("/helpdesk/settings/").status_code == 403

    admin_client.post(f"/helpdesk/staff/{agent.pk}/role", {"role": "administrator"})
    assert set(agent.groups.values_list("name", flat=True)) == {"administrator"}
    assert agent_client.get("/helpdesk/settings/").status_code == 200
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.STAFF_ROLE_CHANGED).exists()

    admin_client.post(f"/helpdesk/staff/{agent.pk}/reset-totp")
    assert not TOTPDevice.objects.filter(user=agent).exists()
    assert agent_client.get("/helpdesk/")["Location"] == "/helpdesk/login"  # session ended
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.STAFF_TOTP_RESET).exists()

    admin_client.post(f"/helpdesk/staff/{agent.pk}/deactivate")
    agent.refresh_from_db()
    assert agent.state == Account.State.DISABLED
    assert AuditEvent.objects.get(kind=AuditEvent.Kind.STAFF_DEACTIVATED).data["target"] == (
        agent.username
    )


def test_administrator_cannot_demote_or_deactivate_self(admin_client: Client) -> None:
    me = admin_client.staff
    response = admin_client.post(f"/helpdesk/staff/{me.pk}/deactivate", follow=True)
    assert "votre propre compte" in page_text(response)
    response = admin_client.post(f"/helpdesk/staff/{me.pk}/role", {"role": "agent"}, follow=True)
    assert "votre propre rôle" in page_text(response)
    me.refresh_from_db()
    assert me.is_active and set(me.groups.values_list("name", flat=True)) == {"administrator"}


def test_settings_page_hides_secrets(admin_client: Client, settings: Any) -> None:
    settings.EMAIL_HOST_PASSWORD = "smtp-very-secret-password"
    page = page_text(admin_client.get("/helpdesk/settings/"))
    assert "ACTIVATION_CODE_HOURS" in page and "AUDIT_RETENTION_MONTHS" in page
    assert settings.SECRET_KEY not in page
    assert "smtp-very-secret-password" not in page
    assert "SECRET_KEY" not in page


def test_invite_link_unknown(client: Client) -> None:
    client.get("/helpdesk/invite", {"code": "AAAAAAAAAAAAAAAAAAAA"})
    assert client.get("/helpdesk/invite").status_code == 400
    assert client.get("/helpdesk/invite").status_code == 400


def test_invite_link_guesses_are_throttled(admin_client: Client) -> None:
    """An invitation leads to a staff account: unknown codes are throttled per address,
    on the page and on the form alike (429, "Trop de tentatives")."""
    from django.core import mail

    admin_client.post(
        "/helpdesk/staff/",
        {"username": "jdupont", "email": "j.dupont@univ-perp.fr", "role": "agent"},
    )
    link = re.search(r"/helpdesk/invite\?code=\S+", mail.outbox[-1].body)
    assert link
    guesser = Client(REMOTE_ADDR="192.0.2.66")
    for n in range(50):
        guesser.get("/helpdesk/invite", {"code": f"{n:020d}"})
        assert guesser.get("/helpdesk/invite").status_code == 400
    guesser.get(link.group(0))
    response = guesser.get("/helpdesk/invite")
    assert response.status_code == 429 and "Trop de tentatives" in page_text(response)
    response = guesser.post(
        "/helpdesk/invite", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 429
    assert not Account.objects.get(username="jdupont").has_usable_password()
    # Another address still uses the link.
    newcomer = Client(REMOTE_ADDR="192.0.2.67")
    newcomer.get(link.group(0))
    assert newcomer.get("/helpdesk/invite").status_code == 200
