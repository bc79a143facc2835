"""Self-service in a real browser: forgotten password, profile, password and address changes,
documentation. Every new page is audited with axe-core (WCAG 2.1 AA), checked for horizontal
scroll at 375 px and screenshotted at 375 px and 1280 px (``selfservice-*``)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.accounts.selfservice import NEW_PASSWORD
from tests.conftest import GOOD_PASSWORD, SMTPCatcher, text_body
from tests.e2e.conftest import Auditor
from tests.e2e.test_journey import tab_expect, tab_to

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RESET_LINK_RE = re.compile(r"https?://\S+/password/reset/confirm\?code=[A-Z0-9]{20}")
EMAIL_LINK_RE = re.compile(r"https?://\S+/account/email/confirm\?code=[A-Z0-9]{20}")
THIRD_PASSWORD = "Troisieme.Essai2028"


def test_forgotten_password_with_keyboard(
    page: Page,
    audit: Auditor,
    ent_url: str,
    make_active_student: Any,
    request: pytest.FixtureRequest,
) -> None:
    """Home → "J'ai oublié mon mot de passe" → mail → link → new password → sign in."""
    student = make_active_student(email="sophie@example.org", first_name="Sophie")
    smtp_server: SMTPCatcher = request.getfixturevalue("smtp_server")

    page.goto("/")
    tab_to(page, "main a[href='/password/reset/']")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{ent_url}/password/reset/")
    expect(page.get_by_role("heading", level=1)).to_have_text("J'ai oublié mon mot de passe")
    audit("selfservice-01-reset-request")
    tab_to(page, "input[name=identifier]")
    page.keyboard.type(student.student_number)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Consultez votre messagerie personnelle"
    )
    audit("selfservice-02-reset-sent")

    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "sophie@example.org"
    match = RESET_LINK_RE.search(text_body(message))
    assert match, text_body(message)
    assert match.group(0).startswith(f"{ent_url}/password/reset/confirm?code=")

    page.goto(match.group(0))
    assert page.url == f"{ent_url}/password/reset/confirm", page.url  # the code left the URL
    expect(page.get_by_role("heading", level=1)).to_have_text("Choisir un nouveau mot de passe")
    audit("selfservice-03-reset-form")
    checklist = page.locator("#password-checklist")
    tab_to(page, "input[name=password1]")
    page.keyboard.type(GOOD_PASSWORD)  # the current password: refused by the server
    tab_expect(page, "password2")
    page.keyboard.type(GOOD_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#error-summary")).to_contain_text("différent de votre mot de passe actuel")
    expect(page.locator("#error-summary")).to_be_focused()
    audit("selfservice-04-reset-form-error")
    tab_to(page, "input[name=password1]")
    page.keyboard.type(NEW_PASSWORD)
    for item in checklist.locator("li").all():
        expect(item).to_have_class(re.compile(r"\bok\b"))
    tab_expect(page, "password2")
    page.keyboard.type(NEW_PASSWORD)
    page.keyboard.press("Enter")  # a POST from chromium: the CSRF check must accept it
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre mot de passe a été modifié")
    audit("selfservice-05-reset-done")
    notice = smtp_server.wait_for(2)[1]
    assert notice["Subject"] == "Votre mot de passe a été modifié"
    assert NEW_PASSWORD not in text_body(notice)

    # The link is single use.
    page.goto(match.group(0))
    expect(page.get_by_role("heading", level=1)).to_have_text("Ce lien n'est plus valable")
    audit("selfservice-06-reset-used-link")

    # Signing in with the new password; the profile.
    page.goto("/login?next=/account/")
    tab_to(page, "input[name=identifier]")
    page.keyboard.type(student.student_number)
    tab_expect(page, "password")
    page.keyboard.type(NEW_PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{ent_url}/account/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon profil")
    expect(page.locator("main")).to_contain_text(student.institutional_email)
    audit("selfservice-07-profile")
    audit.assert_clean()


def test_signed_in_changes(
    page: Page,
    audit: Auditor,
    ent_url: str,
    make_active_student: Any,
    request: pytest.FixtureRequest,
) -> None:
    """Profile → change password → change address (verified by link) → documentation."""
    student = make_active_student(email="ada@example.org", first_name="Ada")
    smtp_server: SMTPCatcher = request.getfixturevalue("smtp_server")
    page.goto("/login?next=/account/")
    page.fill("#id_identifier", student.student_number)
    page.fill("#id_password", GOOD_PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{ent_url}/account/")

    tab_to(page, "main a[href='/account/password/']")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Changer mon mot de passe")
    audit("selfservice-08-password-change")
    tab_to(page, "input[name=current_password]")
    page.keyboard.type("Pas.LeBon2026")
    tab_expect(page, "password1")
    page.keyboard.type(THIRD_PASSWORD)
    tab_expect(page, "password2")
    page.keyboard.type(THIRD_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#error-summary")).to_contain_text("Mot de passe incorrect")
    audit("selfservice-09-password-change-error")
    page.fill("#id_current_password", GOOD_PASSWORD)
    page.fill("#id_password1", THIRD_PASSWORD)
    page.fill("#id_password2", THIRD_PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(f"{ent_url}/account/")
    expect(page.locator(".messages")).to_contain_text("Votre mot de passe a été modifié")
    audit("selfservice-10-profile-after-change")
    assert smtp_server.wait_for(1)[0]["Subject"] == "Votre mot de passe a été modifié"

    page.goto("/account/email/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Changer mon adresse personnelle")
    audit("selfservice-11-email-change")
    page.fill("#id_email", "ada.lovelace@example.net")
    page.fill("#id_current_password", THIRD_PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(f"{ent_url}/account/")
    expect(page.locator("main")).to_contain_text("En attente de confirmation")
    verify = smtp_server.wait_for(2)[1]
    assert verify["To"] == "ada.lovelace@example.net"
    match = EMAIL_LINK_RE.search(text_body(verify))
    assert match, text_body(verify)
    page.goto(match.group(0))
    assert page.url == f"{ent_url}/account/email/confirm", page.url
    audit("selfservice-12-email-confirm")
    page.locator("main button[type=submit]").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Votre nouvelle adresse est confirmée"
    )
    audit("selfservice-13-email-confirmed")
    assert smtp_server.wait_for(3)[2]["To"] == "ada@example.org"

    page.goto("/documentation/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Documentation")
    audit("selfservice-14-documentation")
    tab_to(page, "header button[name=language]")
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    audit("selfservice-15-documentation-en")
    page.goto("/password/reset/confirm")
    audit("selfservice-16-reset-unknown-link")
    audit.assert_clean()
