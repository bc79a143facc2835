"""The OpenID Connect pages a student sees, in chromium: sign-in from a service (login page →
consent → back to the service), the refusal page, the logout confirmation. Each page is
audited with axe-core (WCAG 2.1 AA) at phone and desktop widths, and used with the keyboard."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from playwright.sync_api import Page, expect

from tests.conftest import GOOD_PASSWORD
from tests.e2e.conftest import Auditor
from tests.sso.oidc_helpers import RP_REDIRECT, register

pytestmark = pytest.mark.django_db(transaction=True)


def _authorize_path(client_id: str, redirect_uri: str = RP_REDIRECT) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid profile email",
            "state": "st",
            "nonce": "nn",
            "code_challenge": create_s256_code_challenge("v" * 50),
            "code_challenge_method": "S256",
        }
    )
    return f"/oauth/authorize/?{query}"


def test_sign_in_from_a_service_with_consent(
    page: Page, audit: Auditor, ent_url: str, make_active_student: Any
) -> None:
    student = make_active_student()
    # The relying party's callback: an address of the live server itself (its 404 page is
    # enough to see the code arrive; Playwright cannot intercept a followed redirect).
    callback = f"{ent_url}/rp/callback"
    forum = register(slug="forum", trusted=False, redirect_uris=callback)

    page.goto(_authorize_path(forum.client_id, callback))
    expect(page).to_have_url(re.compile(rf"^{re.escape(ent_url)}/login\?next="))
    page.locator("input[name=identifier]").focus()
    page.keyboard.type(student.student_number)
    page.keyboard.press("Tab")
    page.keyboard.type(GOOD_PASSWORD)
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Autoriser « Service forum » ?")
    expect(page.locator("main")).to_contain_text("Votre adresse électronique institutionnelle")
    audit("oidc-01-consent")
    page.get_by_role("button", name="Autoriser").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"^{re.escape(callback)}\?code=[^&]+&state=st"))

    page.goto(_authorize_path(forum.client_id, "https://evil.example.org/cb"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Connexion au service impossible")
    expect(page.get_by_role("alert")).to_contain_text("n'est pas enregistrée à l'ENT")
    audit("oidc-02-refused")

    page.goto(f"/oauth/logout/?client_id={forum.client_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Se déconnecter de l'ENT ?")
    audit("oidc-03-logout-confirm")
    page.locator("main").get_by_role("button", name="Se déconnecter").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{ent_url}/")
    expect(page.locator("header")).to_contain_text("Se connecter")
    audit.assert_clean()
