"""The help desk on a phone (375 px) and a desktop (1280 px), checked by geometry.

Screenshots show what a person sees; these tests measure it so that a regression fails: the
enrolment QR code decodes (``zbarimg``, Debian's zbar-tools) into the ``otpauth://`` URI at both
widths, no page or table scrolls sideways on a phone, the dashboard chart's labels are at
least 11 px tall and do not overlap, and buttons next to each other keep a gap between them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date, timedelta
from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from ent.accounts import update_request
from ent.accounts.models import UpdateRequest
from tests.conftest import GOOD_PASSWORD, STAFF_PASSWORD, totp_code
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
        assert qr["x"] >= 0 and qr["x"] + qr["width"] <= viewport["width"]
        assert abs(qr["width"] - qr["height"]) < 1 and qr["width"] >= 150
        path = str(SCREENSHOTS_DIR / f"hd-enrol-qr-{viewport['width']}.png")
        SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=path, full_page=True)
        assert _zbar(path) == [device.config_url], viewport


# Problems of the current page's layout, measured in the browser (a list of sentences).
LAYOUT_PROBLEMS = """
() => {
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth) {
    problems.push(`page scrolls sideways: scrollWidth ${doc.scrollWidth} > ${doc.clientWidth}`);
  }
  const shown = (e) => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== "hidden";
  };
  const name = (e) => `${e.tagName.toLowerCase()} "${(e.innerText || e.value || "").trim().slice(0, 30)}"`;
  for (const box of document.querySelectorAll("main .table-scroll")) {
    if (shown(box) && box.scrollWidth > box.clientWidth + 1) {
      const id = box.querySelector("table")?.id || "(table)";
      problems.push(`table ${id} scrolls sideways: ${box.scrollWidth} > ${box.clientWidth}`);
    }
  }
  // A button keeps at least 8 px from every other control or label around it.
  const buttons = [...document.querySelectorAll(
    "main button, main .button, main input[type=submit]")].filter(shown);
  const others = [...document.querySelectorAll(
    "main a, main button, main .button, main input:not([type=hidden]), main select, " +
    "main textarea, main label")].filter(shown);
  for (const b of buttons) {
    const r = b.getBoundingClientRect();
    for (const o of others) {
      if (o === b || b.contains(o) || o.contains(b)) continue;
      const s = o.getBoundingClientRect();
      const dx = Math.max(s.left - r.right, r.left - s.right, 0);
      const dy = Math.max(s.top - r.bottom, r.top - s.bottom, 0);
      if (Math.max(dx, dy) < 8) {
        problems.push(`${name(b)} is ${Math.max(dx, dy).toFixed(1)} px from ${name(o)}`);
      }
    }
  }
  // Chart labels: drawn at least 11 px tall, inside the chart, none over another.
  for (const svg of document.querySelectorAll("main svg.bar-chart")) {
    if (!shown(svg)) continue;
    const frame = svg.getBoundingClientRect();
    const scale = svg.getScreenCTM().a;
    const labels = [...svg.querySelectorAll("text")];
    const boxes = labels.map((t) => t.getBoundingClientRect());
    labels.forEach((t, i) => {
      const size = parseFloat(getComputedStyle(t).fontSize) * scale;
      if (size < 11) problems.push(`chart label "${t.textContent}" drawn ${size.toFixed(1)} px tall`);
      const b = boxes[i];
      if (b.left < frame.left - 0.5 || b.right > frame.right + 0.5 ||
          b.top < frame.top - 0.5 || b.bottom > frame.bottom + 0.5) {
        problems.push(`chart label "${t.textContent}" outside the chart`);
      }
      boxes.slice(i + 1).forEach((c, j) => {
        if (b.left < c.right && c.left < b.right && b.top < c.bottom && c.top < b.bottom) {
          problems.push(`chart labels "${t.textContent}" and "${labels[i + 1 + j].textContent}" overlap`);
        }
      });
    });
  }
  return problems;
}
"""


def _layout(page: Page, name: str) -> list[str]:
    """Screenshots of the current page at both widths, and its layout problems at each."""
    problems = []
    for viewport in (PHONE, DESKTOP):
        page.set_viewport_size(viewport)
        _shot(page, f"{name}-{viewport['width']}.png")
        found: list[str] = page.evaluate(LAYOUT_PROBLEMS)
        problems += [f"{name} at {viewport['width']} px: {p}" for p in found]
    return problems


def test_help_desk_pages_fit_a_phone(
    page: Page, ent_url: str, make_active_student: Any, make_staff: Any
) -> None:
    """Dashboard, search, queue, a request and an account page with a long history."""
    from ent.core import clock
    from ent.helpdesk import services

    agent = make_staff("agent", username="agent.marie-christine.dupont-moretti")
    # Two namesakes activated on different days of the month (the chart's labels are what is
    # measured, not the tallies).
    students = []
    for days_ago, program in ((20, "Licence Mathématiques"), (3, "Master Physique appliquée")):
        clock.advance(-timedelta(days=days_ago))
        try:
            students.append(
                make_active_student(
                    email=f"pascal{days_ago}@example.org",
                    birth_date=date(2001 + days_ago % 5, 3, 4),
                    program=program,
                )
            )
        finally:
            clock.reset()
    student = students[0]
    ipv6 = "2001:db8:85a3:1234:5678:8a2e:370:7334"
    for _ in range(3):
        services.account_lock(account=student.account, actor=agent, ip=ipv6)
        services.account_unlock(account=student.account, actor=agent, ip=ipv6)
    made = update_request.update_request_create(
        student=student,
        kind=UpdateRequest.Kind.NAME,
        message="Mon prénom prend un accent circonflexe.",
        new=update_request.NewValues(first_name="Blaîse"),
        contact_email="",
        ip=ipv6,
    )
    update_request.update_request_approve(request=made, reason="Vu.", actor=agent, ip=ipv6)
    waiting = update_request.update_request_create(
        student=students[1],
        kind=UpdateRequest.Kind.BIRTH_DATE,
        message="Erreur de saisie.",
        new=update_request.NewValues(birth_date=date(2002, 2, 2)),
        contact_email="",
        ip=None,
    )

    _sign_in(page, ent_url, agent)
    problems = _layout(page, "hd-layout-dashboard")
    page.goto("/helpdesk/search?q=pascal")
    expect(page.locator("#results tbody tr")).to_have_count(2)
    problems += _layout(page, "hd-layout-search")
    page.goto(f"/helpdesk/students/{student.pk}/")
    expect(page.locator("#history .changes")).to_have_text(
        re.compile(r"Prénom : Blaise →\s*devient Blaîse")  # the word is for screen readers
    )
    problems += _layout(page, "hd-layout-account")
    page.goto("/helpdesk/requests/")
    problems += _layout(page, "hd-layout-queue")
    page.goto(f"/helpdesk/requests/{waiting.pk}/")
    expect(page.get_by_role("button", name="Prendre en charge")).to_be_visible()
    problems += _layout(page, "hd-layout-request-new")
    page.get_by_role("button", name="Prendre en charge").click()
    expect(page.locator(".messages")).to_contain_text("Vous avez pris en charge")
    problems += _layout(page, "hd-layout-request-taken")
    page.goto(f"/helpdesk/requests/{made.pk}/")
    problems += _layout(page, "hd-layout-request-approved")
    assert not problems, "\n".join(problems)


def test_self_service_forms_keep_their_buttons_apart(page: Page, active_student: Any) -> None:
    """A submit button and its "Annuler" link: the shared form pattern of the student pages."""
    page.goto("/login?next=/account/")
    page.fill("input[name=identifier]", active_student.student_number)
    page.fill("input[name=password]", GOOD_PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon profil")
    problems = []
    for path, name in (("/account/password/", "password"), ("/account/email/", "email")):
        page.goto(path)
        expect(page.get_by_role("link", name="Annuler")).to_be_visible()
        problems += _layout(page, f"selfservice-layout-{name}")
    assert not problems, "\n".join(problems)


def test_administrator_pages_fit_a_phone(page: Page, ent_url: str, make_staff: Any) -> None:
    """Sign-in pages, staff, settings and the service registry, measured like the others."""
    admin = make_staff("administrator", username="admin.jean-baptiste.de-la-salle")
    colleague = make_staff("agent", username="agent.durand")
    page.goto("/helpdesk/login")
    problems = _layout(page, "hd-layout-login")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", STAFF_PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(f"{ent_url}/helpdesk/login/code")
    problems += _layout(page, "hd-layout-totp")
    page.fill("#id_code", totp_code(TOTPDevice.objects.get(user=admin)))
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(f"{ent_url}/helpdesk/")
    for path, name in (
        ("/helpdesk/staff/", "staff"),
        (f"/helpdesk/staff/{colleague.pk}/", "staff-member"),
        ("/helpdesk/settings/", "settings"),
        ("/helpdesk/services/", "services"),
        ("/helpdesk/services/new", "service-new"),
    ):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        problems += _layout(page, f"hd-layout-{name}")
    assert not problems, "\n".join(problems)
