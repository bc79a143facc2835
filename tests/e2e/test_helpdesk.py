"""Update request and help desk in a real browser, every page audited with axe-core.

A student who lost their personal address asks for an update; an agent signs in (password,
then enrolment of the authenticator with the QR code page), finds the request from the
dashboard, takes it and approves it; the verification link reaches the new address. Then an
administrator signs in with a TOTP code and goes through the staff and settings pages, and an
invited colleague opens the invitation page.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from ent.accounts.models import Account, UpdateRequest
from tests.conftest import STAFF_PASSWORD, SMTPCatcher, text_body, totp_code
from tests.e2e.conftest import Auditor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_lost_address_through_the_help_desk(
    page: Page,
    audit: Auditor,
    ent_url: str,
    make_active_student: Any,
    make_staff: Any,
    request: pytest.FixtureRequest,
) -> None:
    student = make_active_student(email="lost@example.org", first_name="Ada", last_name="Lovelace")
    smtp_server: SMTPCatcher = request.getfixturevalue("smtp_server")  # after the activation
    agent = make_staff("agent", username="agent.durand", device=False)

    # The student, signed out, from the home page.
    page.goto("/update-request/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Faire une demande de mise à jour")
    audit("hd-01-update-request")
    page.locator("main button[type=submit]").click()
    expect(page.locator("#error-summary")).to_be_visible()
    audit("hd-02-update-request-errors")
    page.fill("#id_student_number", student.student_number)
    page.fill("#id_ine", student.ine)
    page.select_option("#id_kind", "lost_email")
    page.fill("#id_message", "Je n'ai plus accès à mon ancienne adresse.")
    page.fill("#id_new_email", "ada.new@example.org")
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(f"{ent_url}/update-request/sent/")
    reference = page.locator(".reference").inner_text()
    assert re.fullmatch(r"MAJ-\d{4}-[A-Z2-9]{6}", reference)
    audit("hd-03-update-request-sent")
    first = smtp_server.wait_for(2)  # the acknowledgement, and the alert to the old address
    (ack,) = [m for m in first if m["To"] == "ada.new@example.org"]
    assert reference in text_body(ack)

    # The agent signs in: password, then enrolment (QR code), then the dashboard.
    page.goto("/helpdesk/login")
    audit("hd-04-staff-login")
    page.fill("#id_username", agent.username)
    page.fill("#id_password", STAFF_PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(f"{ent_url}/helpdesk/login/enrol")
    expect(page.locator(".qr-code svg")).to_be_visible()
    audit("hd-05-enrol")
    device = TOTPDevice.objects.get(user=agent)
    page.fill("#id_code", totp_code(device))
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(f"{ent_url}/helpdesk/")
    expect(page.locator(".big-number")).to_have_text("1")
    audit("hd-06-dashboard")

    # Search, the account page.
    page.fill("#id_q", "lovelace")
    page.locator("form[role=search] button").click()
    expect(page.locator("main table")).to_contain_text(student.student_number)
    audit("hd-07-search")
    page.get_by_role("link", name="Lovelace Ada").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ada Lovelace")
    audit("hd-08-account")

    # The queue, the request: take it, approve it.
    page.get_by_role("link", name="Demandes de mise à jour", exact=True).first.click()
    expect(page.locator("main table")).to_contain_text(reference)
    audit("hd-09-queue")
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Demande {reference}")
    audit("hd-10-request")
    page.get_by_role("button", name="Prendre en charge").click()
    expect(page.locator(".messages")).to_contain_text("Vous avez pris en charge")
    page.fill("#id_reason", "Nouvelle adresse enregistrée après vérification.")
    page.get_by_role("button", name="Accepter").click()
    expect(page.locator("#error-summary")).to_contain_text("cochez la case")
    audit("hd-10b-request-identity-unchecked")
    page.get_by_label("J'ai vérifié l'identité de l'étudiant").check()
    page.get_by_role("button", name="Accepter").click()
    expect(page.locator(".messages")).to_contain_text("acceptée")
    audit("hd-11-request-approved")
    made = UpdateRequest.objects.get(reference=reference)
    assert made.status == UpdateRequest.Status.APPROVED and made.assigned_to_id == agent.pk

    messages = smtp_server.wait_for(5)
    bodies = [text_body(m) for m in messages[2:] if m["To"] == "ada.new@example.org"]
    assert any("/account/email/confirm?code=" in b for b in bodies), bodies
    assert Account.objects.get(student=student).personal_email == "lost@example.org"
    audit.assert_clean()


def test_administrator_pages(
    page: Page, audit: Auditor, ent_url: str, make_staff: Any, smtp_server: SMTPCatcher
) -> None:
    admin = make_staff("administrator", username="admin.martin")
    page.goto("/helpdesk/login")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", STAFF_PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(f"{ent_url}/helpdesk/login/code")
    audit("hd-12-totp")
    page.fill("#id_code", totp_code(TOTPDevice.objects.get(user=admin)))
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(f"{ent_url}/helpdesk/")

    page.get_by_role("link", name="Personnel").click()
    audit("hd-13-staff")
    page.fill("#id_username", "nouvel.agent")
    page.fill("#id_email", "nouvel.agent@univ-perp.fr")
    page.select_option("#id_role", "agent")
    page.get_by_role("button", name="Créer et envoyer l'invitation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("nouvel.agent")
    audit("hd-14-staff-member")
    page.get_by_role("link", name="Réglages").click()
    audit("hd-15-settings")

    # The service registry: list, a form with errors, an OIDC client and its secret shown
    # once, the entry page, the deletion confirmation.
    page.get_by_role("link", name="Services", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Services connectés à l'ENT")
    audit("hd-17-services")
    page.get_by_role("link", name="Ajouter un service").click()
    audit("hd-18-service-new")
    page.fill("#id_name", "Bibliothèque")
    page.fill("#id_slug", "bu")
    page.fill("#id_home_url", "https://bu.example.org/")
    page.check("#id_protocol_0")  # CAS
    page.fill("#id_cas_service_pattern", ".*")
    page.get_by_role("button", name="Ajouter le service").click()
    expect(page.locator("#error-summary")).to_contain_text("n'importe quel site")
    audit("hd-19-service-errors")
    page.check("#id_protocol_1")  # OpenID Connect
    page.fill("#id_cas_service_pattern", "")
    page.fill("#id_oidc_redirect_uris", "https://bu.example.org/callback")
    page.get_by_label("Prénom et nom").check()
    page.get_by_role("button", name="Ajouter le service").click()
    expect(page.locator("#client-secret")).to_be_visible()
    secret = page.locator("#client-secret").inner_text()
    assert len(secret) >= 64
    audit("hd-20-service-secret")
    page.get_by_role("link", name="Retour à la fiche du service").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Service Bibliothèque")
    assert secret not in page.content()
    audit("hd-21-service")
    page.get_by_role("link", name="Supprimer…").click()
    audit("hd-22-service-delete")
    page.get_by_role("button", name="Supprimer définitivement").click()
    expect(page.locator(".messages")).to_contain_text("est supprimé")

    (invite,) = smtp_server.wait_for(1)
    link = re.search(r"https?://\S+/helpdesk/invite\?code=\S+", text_body(invite))
    assert link
    page.context.clear_cookies()
    page.goto(link.group(0))
    expect(page).to_have_url(f"{ent_url}/helpdesk/invite")
    audit("hd-16-invite")
    audit.assert_clean()
