"""The whole student journey in a real browser, with the keyboard only.

import (``ent import-students`` on a CSV) → activation (with one wrong INE first) → details
(live password checklist) → mail (real SMTP server) → link → "Activer mon compte" → login →
home page. Every page is audited with axe-core (WCAG 2.1 AA), checked for horizontal scroll at
375 px and screenshotted at 375 px and 1280 px into ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from tests.conftest import GOOD_PASSWORD, SMTPCatcher, text_body
from tests.e2e.conftest import Auditor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STUDENT_NUMBER = "21900042"
INE = "123456789AB"
FIRST_NAME, LAST_NAME = "Émilie", "Du Châtelet"
PERSONAL_EMAIL = "emilie.chatelet@example.org"  # no "did you mean …?" hint for this domain
LINK_RE = re.compile(r"https?://\S+/activation/confirm\?code=\S+")


def tab_to(page: Page, selector: str, *, max_tabs: int = 40) -> None:
    """Press Tab until the focused element matches ``selector`` (fails if it never does)."""
    for _ in range(max_tabs):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector!r} not reached after {max_tabs} presses of Tab")


def focused_name(page: Page) -> str:
    """The ``name`` attribute of the focused element ('' when it has none)."""
    return str(page.evaluate("document.activeElement.getAttribute('name') || ''"))


def tab_expect(page: Page, name: str) -> None:
    """Press Tab once: focus must land on the field ``name`` (focus order)."""
    page.keyboard.press("Tab")
    assert focused_name(page) == name, f"Tab went to {focused_name(page)!r}, not {name!r}"


def import_student(tmp_path: Path) -> None:
    """The import step, as the registrar's office runs it."""
    csv_file = tmp_path / "export.csv"
    csv_file.write_text(
        "student_number,ine,last_name,first_name,birth_date,program\n"
        f"{STUDENT_NUMBER},{INE},{LAST_NAME},{FIRST_NAME},2004-06-19,Licence Physique\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    call_command("import-students", str(csv_file), stdout=out, stderr=out)
    assert "1 créés" in out.getvalue(), out.getvalue()


def test_student_journey_with_keyboard(
    page: Page, audit: Auditor, smtp_server: SMTPCatcher, ent_url: str, tmp_path: Path
) -> None:
    """Import → activation → mail → link → login, keyboard only, every page audited."""
    import_student(tmp_path)
    from ent.directory.models import Student

    institutional_email = Student.objects.get(student_number=STUDENT_NUMBER).institutional_email

    # Home page, anonymous: four entries. Focus starts at the main heading (ent.js); the skip
    # link is still the page's first Tab stop, for a visit that starts from the top.
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("ul.entries > li")).to_have_count(4)
    expect(page.locator("main h1")).to_be_focused()
    audit("01-home")
    first = "document.querySelector('a[href], button, input:not([type=hidden]), select')"
    assert page.evaluate(f"{first}.classList.contains('skip-link')")
    page.focus(".skip-link")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    tab_to(page, "main a[href='/activation/']")
    page.keyboard.press("Enter")

    # Step 1, identification: a wrong INE first, then the right one.
    expect(page).to_have_url(f"{ent_url}/activation/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Activer mon compte")
    audit("02-activation")
    tab_to(page, "input[name=student_number]")
    page.keyboard.type(STUDENT_NUMBER)
    tab_expect(page, "ine")
    page.keyboard.type("999999999ZZ")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Continuer"
    page.keyboard.press("Enter")
    expect(page.locator("#error-summary")).to_contain_text("code INE incorrect")
    audit("03-activation-error")
    tab_to(page, "input[name=ine]")
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type(INE)
    page.keyboard.press("Enter")

    # Step 2: personal address, password twice (the checklist ticks as one types), charter.
    expect(page).to_have_url(f"{ent_url}/activation/details/")
    expect(page.locator("main")).to_contain_text(f"Bonjour {FIRST_NAME} {LAST_NAME}.")
    audit("04-details")
    checklist = page.locator("#password-checklist")
    tab_to(page, "input[name=email]")
    page.keyboard.type(PERSONAL_EMAIL)
    tab_expect(page, "password1")
    page.keyboard.type(GOOD_PASSWORD[:3])  # "Ent": 3 characters, 2 kinds
    expect(checklist.locator("[data-rule=length]")).to_have_class(re.compile(r"\bko\b"))
    expect(checklist.locator("[data-rule=classes]")).to_have_class(re.compile(r"\bko\b"))
    expect(checklist.locator("[data-rule=allowed]")).to_have_class(re.compile(r"\bok\b"))
    expect(checklist.locator("[data-class=digit]")).to_have_class(re.compile(r"\bko\b"))
    page.keyboard.type(GOOD_PASSWORD[3:])
    for item in checklist.locator("li").all():
        expect(item).to_have_class(re.compile(r"\bok\b"))
    expect(page.locator("#password-live")).not_to_contain_text("non respectée")
    expect(page.locator("#password-live")).to_contain_text("caractères minimum : respectée.")
    tab_expect(page, "password2")
    page.keyboard.type(GOOD_PASSWORD)
    tab_expect(page, "charter")
    page.keyboard.press("Space")
    expect(page.locator("input[name=charter]")).to_be_checked()
    audit("05-details-filled")
    tab_to(page, "main button[type=submit]")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Valider"
    page.keyboard.press("Enter")

    # Step 3: the link went to the (masked) personal address.
    expect(page).to_have_url(f"{ent_url}/activation/sent/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Consultez votre messagerie personnelle"
    )
    assert PERSONAL_EMAIL not in page.content()  # masked
    audit("06-sent")

    # The mail, through a real SMTP server; its link is built from BASE_URL.
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == PERSONAL_EMAIL
    body = text_body(message)
    assert f"Bonjour {FIRST_NAME} {LAST_NAME}" in body
    match = LINK_RE.search(body)
    assert match, body
    link = match.group(0)
    assert link.startswith(f"{ent_url}/activation/confirm?code="), link

    # The link shows one button (mail scanners prefetch links); pressing it activates.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Finaliser l'activation de votre compte"
    )
    # The code has left the address bar (and so every Referer header) before the page shows.
    assert page.url == f"{ent_url}/activation/confirm", page.url
    audit("07-confirm")
    tab_to(page, "main button[type=submit]")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Activer mon compte"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre compte est activé")
    audit("08-activated")
    tab_to(page, "main a.button")
    page.keyboard.press("Enter")

    # Sign in: a wrong password once, then the chosen one.
    expect(page).to_have_url(re.compile(rf"^{re.escape(ent_url)}/login"))
    audit("09-login")
    tab_to(page, "input[name=identifier]")
    page.keyboard.type(STUDENT_NUMBER)
    tab_expect(page, "password")
    page.keyboard.type("Pas.LeBon2026")
    page.keyboard.press("Enter")
    expect(page.locator("#error-summary")).to_contain_text("Identifiant ou mot de passe incorrect")
    audit("10-login-error")
    tab_to(page, "input[name=password]")
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type(GOOD_PASSWORD)
    page.keyboard.press("Enter")

    # Home page, signed in.
    expect(page).to_have_url(f"{ent_url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Bonjour {FIRST_NAME} {LAST_NAME}")
    expect(page.locator("main")).to_contain_text(institutional_email)
    audit("11-home-signed-in")

    # The documentation (footer link) and the IT charter.
    tab_to(page, "footer a[href='/documentation/']")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{ent_url}/documentation/")
    audit("12-documentation")
    page.goto("/charter/")
    audit("13-charter")

    audit.assert_clean()


def test_english_switch(page: Page, audit: Auditor, ent_url: str) -> None:
    """The "English" button of the header serves the pages in English, and it sticks."""
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    tab_to(page, "header button[name=language]")
    assert page.evaluate("document.activeElement.textContent.trim()") == "English"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"^{re.escape(ent_url)}/login"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("header button[name=language]")).to_have_attribute("lang", "fr")
    audit("14-login-en")
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    audit.assert_clean()


def test_demo_outbox_and_dead_ends(
    page: Page, audit: Auditor, ent_url: str, tmp_path: Path, settings: Any
) -> None:
    """The pages a student meets off the happy path, and the demo outbox, pass axe too."""
    settings.EMAIL_BACKEND = "ent.core.mail.DemoOutboxBackend"  # as in `make run`
    import_student(tmp_path)
    page.goto("/activation/")
    page.fill("#id_student_number", STUDENT_NUMBER)
    page.fill("#id_ine", INE)
    page.keyboard.press("Enter")
    page.fill("#id_email", "emilie@gmial.com")
    page.fill("#id_password1", GOOD_PASSWORD)
    page.fill("#id_password2", GOOD_PASSWORD)
    page.check("#id_charter")
    page.locator("main button[type=submit]").click()
    # The server's "did you mean …?" and the checkbox to keep the address as typed.
    expect(page.locator("#error-summary")).to_contain_text("emilie@gmail.com")
    expect(page.locator("#error-summary")).to_be_focused()
    audit("15-email-typo")
    page.fill("#id_email", "emilie@gmail.com")
    page.fill("#id_password1", GOOD_PASSWORD)
    page.fill("#id_password2", GOOD_PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(f"{ent_url}/activation/sent/")

    page.goto("/demo/outbox")
    audit("16-outbox")
    page.get_by_role("link", name=re.compile("Activation de votre compte")).click()
    expect(page.locator("pre.mail-body")).to_contain_text("Bonjour Émilie Du Châtelet")
    audit("17-outbox-mail")

    page.goto("/activation/confirm?code=AAAAAAAAAAAAAAAAAAAA")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lien d'activation inconnu")
    audit("18-unknown-link")
    page.goto("/no-such-page")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page introuvable")
    audit("19-not-found")
    page.goto("/password/reset/")
    audit("20-forgotten-password")
    audit.assert_clean()
