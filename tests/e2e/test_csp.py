"""The Content-Security-Policy in chromium: every main page shows with zero violation, and the
sign-in flows that end on another site (consent, logout, a trusted service) still get there.

The ``page`` fixture (tests/e2e/conftest.py) records every ``securitypolicyviolation`` event
and every CSP message of the console, and fails the test if there is one. The last test checks
that this watcher does see a violation, so the others cannot pass for want of looking.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.core import mail
from playwright.sync_api import Page, expect

from ent.core.mail import DemoOutboxBackend
from ent.sso.models import Service
from ent.sso.oidc import oidc_client_sync
from tests.conftest import GOOD_PASSWORD, start_activation
from tests.sso.cas_helpers import Recorder, http_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def visit(page: Page, url: str, status: int = 200) -> None:
    """Open ``url`` and check the answer carries the policy."""
    response = page.goto(url)
    assert response is not None and response.status == status, url
    header = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in header and "frame-ancestors 'none'" in header, (url, header)
    assert "unsafe-inline" not in header


def sign_in(page: Page, student: Any) -> None:
    page.fill("#id_identifier", student.student_number)
    page.fill("#id_password", GOOD_PASSWORD)
    page.keyboard.press("Enter")


def test_every_main_page_without_violation(
    page: Page, csp_violations: list[str], make_student: Any, make_active_student: Any
) -> None:
    pending = make_student(first_name="Marie", last_name="Curie")
    start_activation(pending, "marie@example.org")
    DemoOutboxBackend().send_messages(mail.outbox[-1:])  # the activation mail, in the outbox
    student = make_active_student(first_name="Ada", last_name="Lovelace")

    for url in (
        "/login",
        "/activation/",
        "/password/reset/",
        "/update-request/",
        "/documentation/",
        "/charter/",
        "/helpdesk/login",
        "/demo/outbox",
    ):
        visit(page, url)
    visit(page, "/no/such/page", status=404)
    visit(page, "/demo/outbox")
    # The mail in the outbox, its link followed (the confirmation page with its button).
    page.get_by_role("link", name=re.compile("Activation")).first.click()
    link = page.locator("pre.mail-body a").first
    href = link.get_attribute("href")
    assert href and "code=" in href
    link.click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()

    # Activation: identify, then the details form with its live checklist and the "did you
    # mean …?" hint (ent.js).
    newcomer = make_student(first_name="Emmy", last_name="Noether")
    visit(page, "/activation/")
    page.fill("#id_student_number", newcomer.student_number)
    page.fill("#id_ine", newcomer.ine)
    page.keyboard.press("Enter")
    email = page.locator("input[type=email]").first
    email.fill("emmy@gmial.com")
    email.blur()
    expect(page.locator("#email-suggestion")).to_contain_text("gmail.com")
    page.locator("input[data-password-policy]").fill("Abc.1234")
    expect(page.locator('#password-checklist [data-rule="length"]')).to_have_class(
        re.compile(r"\bok\b")
    )

    visit(page, "/login")
    sign_in(page, student)
    expect(page.get_by_role("heading", level=1)).to_have_text("Bonjour Ada Lovelace")
    for url in ("/", "/account/", "/account/email/", "/charter/"):
        visit(page, url)
    visit(page, "/account/password/")
    # The language switch (a form to another path of ENT) and the logout button.
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="Français").click()
    page.get_by_role("button", name=re.compile("déconnecter", re.IGNORECASE)).first.click()
    expect(page.locator("header")).to_contain_text("Se connecter")
    assert csp_violations == []


@pytest.fixture
def remote_service(ent_url: str) -> Iterator[Recorder]:
    """A service on another origin (127.0.0.1 while ENT is localhost), recording requests."""
    with http_server() as app:
        assert not app.url.startswith(ent_url)
        yield app


def _oidc(app: Recorder, *, trusted: bool) -> str:
    service = Service.objects.create(
        name="Forum",
        slug="forum",
        home_url=app.url + "/",
        protocol=Service.Protocol.OIDC,
        oidc_redirect_uris=app.url + "/cb",
        trusted=trusted,
        attributes=["uid"],
    )
    assert oidc_client_sync(service=service)
    service.refresh_from_db()
    return str(service.oidc_client_id)


def _authorize(client_id: str, redirect_uri: str) -> str:
    return "/oauth/authorize/?" + urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid",
            "state": "st",
            "code_challenge": create_s256_code_challenge("v" * 50),
            "code_challenge_method": "S256",
        }
    )


def test_consent_then_logout_lead_to_the_other_origin(
    page: Page, remote_service: Recorder, active_student: Any
) -> None:
    client_id = _oidc(remote_service, trusted=False)
    page.goto(_authorize(client_id, remote_service.url + "/cb"))
    sign_in(page, active_student)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Autoriser")
    page.get_by_role("button", name="Autoriser").click()
    page.wait_for_url(re.compile(rf"^{re.escape(remote_service.url)}/cb\?code=[^&]+&state=st"))

    page.goto(
        "/oauth/logout/?"
        + urlencode({"client_id": client_id, "post_logout_redirect_uri": remote_service.url + "/"})
    )
    page.locator("main").get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(remote_service.url + "/")


def test_login_form_leads_to_a_trusted_service(
    page: Page, remote_service: Recorder, active_student: Any
) -> None:
    # The password POST, /oauth/authorize/, then the service: one chain after one form.
    client_id = _oidc(remote_service, trusted=True)
    page.goto(_authorize(client_id, remote_service.url + "/cb"))
    sign_in(page, active_student)
    page.wait_for_url(re.compile(rf"^{re.escape(remote_service.url)}/cb\?code="))


def test_the_watcher_sees_a_violation(page: Page, csp_violations: list[str]) -> None:
    visit(page, "/login")
    # What an injection would try: an inline handler and an inline script.
    page.evaluate(
        """() => {
          document.body.insertAdjacentHTML("beforeend", '<img src="data:," onload="window.pwned=1">');
          const s = document.createElement("script");
          s.textContent = "window.pwned = 2";
          document.body.appendChild(s);
        }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("window.pwned") is None
    assert any("script-src" in v for v in csp_violations), csp_violations
    csp_violations.clear()  # seen and expected: the fixture's final check must not fail
