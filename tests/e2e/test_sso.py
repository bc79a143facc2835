"""One sign-on for every service, in a real browser.

A student signs in once on the portal, opens a CAS service (python-cas) and an OpenID Connect
service (authlib) from their tiles without typing the password again, logs out of ENT, and both
services are logged out (CAS single logout, OIDC back-channel logout). The two services are
written with off-the-shelf client libraries and know nothing of ENT but its URL.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ent.sso.models import Service
from ent.sso.oidc import oidc_client_sync
from tests.conftest import GOOD_PASSWORD
from tests.e2e.conftest import Auditor
from tests.e2e.relying_parties import CasService, OidcService

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def moodle(ent_url: str) -> Iterator[CasService]:
    """A CAS-speaking course platform on a loopback port."""
    app = CasService(name="Moodle", cas_url=ent_url + "/cas/")
    app.start()
    Service.objects.create(
        name="Moodle",
        slug="moodle",
        description="Cours en ligne",
        icon=Service.Icon.COURSES,
        home_url=app.url,
        protocol=Service.Protocol.CAS,
        cas_service_pattern=re.escape(app.url) + ".*",
        attributes=["uid", "displayName", "mail"],
        order=1,
    )
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture
def timetable(ent_url: str) -> Iterator[OidcService]:
    """An OpenID Connect relying party (the timetable) on a loopback port."""
    app = OidcService(name="Emploi du temps", issuer=ent_url)
    app.start()
    service = Service.objects.create(
        name="Emploi du temps",
        slug="edt",
        description="Votre emploi du temps",
        icon=Service.Icon.CALENDAR,
        home_url=app.url,
        protocol=Service.Protocol.OIDC,
        oidc_redirect_uris=app.redirect_uri,
        logout_url=app.logout_uri,
        trusted=True,
        attributes=["uid", "displayName", "givenName", "sn", "mail"],
        order=2,
    )
    secret = oidc_client_sync(service=service)
    assert secret
    service.refresh_from_db()
    app.client_id, app.client_secret = service.oidc_client_id, secret
    try:
        yield app
    finally:
        app.stop()


def wait_until(condition: Any, timeout: float = 10.0) -> None:
    """Poll ``condition()`` (single logout is sent in the background)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_one_sign_on_two_services_one_logout(
    page: Page,
    audit: Auditor,
    ent_url: str,
    make_active_student: Any,
    moodle: CasService,
    timetable: OidcService,
) -> None:
    student = make_active_student(first_name="Ada", last_name="Lovelace")

    page.goto("/login")
    page.fill("#id_identifier", student.student_number)
    page.fill("#id_password", GOOD_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bonjour Ada Lovelace")
    tiles = page.locator("ul.tiles > li a")
    expect(tiles).to_have_count(3)  # ENT's own webmail, then the two services
    expect(tiles.first).to_have_attribute("href", "/webmail/")
    audit("sso-01-portal")

    # The CAS service: its tile, then python-cas validates the ticket; no password asked.
    page.get_by_role("link", name=re.compile("Moodle")).click()
    page.wait_for_url(moodle.url)
    expect(page.locator("[data-attr=user]")).to_have_text(student.student_number)
    expect(page.locator("[data-attr=displayName]")).to_have_text("Ada Lovelace")

    # The OIDC service: code + PKCE, ID token checked against the JWKS; no password asked.
    page.goto("/")
    page.get_by_role("link", name=re.compile("Emploi du temps")).click()
    page.wait_for_url(timetable.url)
    expect(page.locator("[data-attr=name]")).to_have_text("Ada Lovelace")
    expect(page.locator("[data-attr=preferred_username]")).to_have_text(student.student_number)
    sub = page.locator("[data-attr=sub]").inner_text()
    assert sub and student.student_number not in sub

    # Both services know the student; ENT's logout ends both.
    assert len(moodle.sessions) == 1 and len(timetable.sessions) == 1
    page.goto("/")
    page.get_by_role("button", name=re.compile("déconnecter", re.IGNORECASE)).click()
    expect(page.get_by_role("link", name="Activer mon compte")).to_be_visible()
    wait_until(lambda: not moodle.sessions and not timetable.sessions)
    assert len(moodle.logout_requests) == 1 and timetable.logout_requests == [sub]

    # Opening either service again leads to the ENT login page: the sign-on is over.
    page.goto(moodle.url)
    expect(page).to_have_url(re.compile(rf"^{re.escape(ent_url)}/login\?next="))
    page.goto(timetable.url)
    expect(page).to_have_url(re.compile(rf"^{re.escape(ent_url)}/login\?next="))
    audit("sso-02-login-again")
    audit.assert_clean()
