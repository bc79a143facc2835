"""Single sign-on in a real browser: portal tiles, a service signing in through CAS with no
second password, method=POST, renew, warn, unknown service and CAS logout; every page audited."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ent.sso.models import Service
from tests.conftest import GOOD_PASSWORD
from tests.e2e.conftest import Auditor
from tests.sso.cas_helpers import http_server

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page: Page, student: Any) -> None:
    """Fill the ENT's /login form, keyboard only."""
    page.fill("#id_identifier", student.student_number)
    page.fill("#id_password", GOOD_PASSWORD)
    page.keyboard.press("Enter")


def test_portal_and_cas_in_a_browser(
    page: Page, audit: Auditor, ent_url: str, active_student: Any
) -> None:
    with http_server() as app:
        Service.objects.create(
            name="Moodle",
            slug="moodle",
            description="Cours en ligne.",
            icon=Service.Icon.COURSES,
            home_url=app.url + "/moodle/",
            protocol=Service.Protocol.CAS,
            cas_service_pattern=re.escape(app.url) + "/.*",
            attributes=["uid"],
            order=1,
        )
        Service.objects.create(
            name="Webmail",
            slug="webmail",
            icon=Service.Icon.MAIL,
            home_url=ent_url + "/webmail/",
            protocol=Service.Protocol.CAS,
            cas_service_pattern=re.escape(ent_url) + "/webmail/.*",
            order=2,
        )
        # A service sends the student to /cas/login: the ENT login page, then back with a ticket.
        page.goto("/cas/login?service=" + app.url + "/moodle/")
        expect(page).to_have_url(re.compile(rf"^{re.escape(ent_url)}/login\?next="))
        sign_in(page, active_student)
        page.wait_for_url(re.compile(rf"^{re.escape(app.url)}/moodle/\?ticket=ST-"))

        # The portal: greeting and tiles, audited at 375 px and 1280 px.
        page.goto("/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Bonjour Sophie Germain")
        expect(page.locator("ul.tiles > li")).to_have_count(2)
        expect(page.get_by_role("link", name=re.compile("^Moodle"))).to_have_attribute(
            "href", app.url + "/moodle/"
        )
        expect(page.get_by_role("link", name="Mon profil")).to_be_visible()
        audit("cas-01-portal")

        # Signed in: a second service visit needs no password.
        app.requests.clear()
        page.goto("/cas/login?service=" + app.url + "/moodle/course/1")
        page.wait_for_url(re.compile(rf"^{re.escape(app.url)}/moodle/course/1\?ticket=ST-"))

        # method=POST: the page posts the ticket by itself (external script)...
        app.requests.clear()
        page.goto("/cas/login?method=POST&service=" + app.url + "/moodle/post")
        page.wait_for_url(app.url + "/moodle/post")
        posts = [r for r in app.requests if r[0] == "POST"]  # the browser also asks a favicon
        assert [r[1] for r in posts] == ["/moodle/post"]
        assert posts[0][3]["ticket"][0].startswith("ST-")
        # ...and without the script, a visible button does it.
        page.route("**/cas_post.js", lambda route: route.abort())
        page.goto("/cas/login?method=POST&service=" + app.url + "/moodle/post")
        button = page.get_by_role("button", name="Continuer vers Moodle")
        expect(button).to_be_visible()
        audit("cas-02-post")
        button.focus()
        page.keyboard.press("Enter")
        page.wait_for_url(app.url + "/moodle/post")

        # renew: the password is asked again, with a word of explanation.
        page.goto("/cas/login?renew=true&service=" + app.url + "/moodle/")
        expect(page.locator(".notice")).to_contain_text("à nouveau votre mot de passe")
        audit("cas-03-renew")
        sign_in(page, active_student)
        page.wait_for_url(re.compile(rf"^{re.escape(app.url)}/moodle/\?ticket=ST-"))

        # warn: the student is asked before being signed in to the service.
        page.goto("/cas/login?warn=true&service=" + app.url + "/moodle/")
        continue_link = page.get_by_role("link", name="Continuer vers Moodle")
        expect(continue_link).to_be_visible()
        audit("cas-04-warn")
        continue_link.focus()
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(rf"^{re.escape(app.url)}/moodle/\?ticket=ST-"))

        # An unknown service: a clear page, no ticket.
        page.goto("/cas/login?service=https://evil.example.com/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Service inconnu")
        audit("cas-05-unknown-service")

        # CAS logout: the page says so; the portal is anonymous again.
        page.goto("/cas/logout")
        expect(page.get_by_role("heading", level=1)).to_have_text("Vous êtes déconnecté")
        audit("cas-06-logged-out")
        page.goto("/")
        expect(page.locator("ul.tiles")).to_have_count(0)
    audit.assert_clean()
