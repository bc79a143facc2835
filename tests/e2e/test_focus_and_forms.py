"""Keyboard and screen-reader starting points, the password checklist's spoken status, and the
update-request form that shows only the value field of the chosen kind, in chromium.

Issue 13 §6: after each page change focus was on ``body`` (five Tabs before the form), the
checklist's live region said only « 3 / 3 », and the update-request form showed the five
« valeur exacte » fields whatever the kind. Pages are audited (axe-core, 375 and 1280 px).
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import GOOD_PASSWORD
from tests.e2e.conftest import DESKTOP, Auditor

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ACTIVE = "document.activeElement"


def focused(page: Page) -> str:
    """tag#id of the focused element (``H1#`` for a heading without id)."""
    return str(page.evaluate(f"{ACTIVE}.tagName + '#' + {ACTIVE}.id"))


def test_focus_starts_at_the_heading_then_the_error_summary(page: Page, audit: Auditor) -> None:
    page.goto("/activation/")
    expect(page.locator("main h1")).to_be_focused()
    assert page.evaluate(f"{ACTIVE}.getAttribute('tabindex')") == "-1"
    assert page.evaluate("window.scrollY") == 0  # the page did not jump
    page.keyboard.press("Tab")  # one Tab, and the student is in the form
    assert page.evaluate(f"{ACTIVE}.name") == "student_number"
    page.keyboard.press("Shift+Tab")  # the heading is not a Tab stop
    assert page.evaluate(f"{ACTIVE}.tagName") != "H1"
    audit("focus-01-activation")

    page.goto("/activation/")
    page.locator("main button[type=submit]").click()  # nothing typed: refused
    expect(page.locator("#error-summary")).to_be_focused()
    assert focused(page) == "DIV#error-summary"
    audit("focus-02-activation-errors")

    for path in ("/", "/documentation/", "/update-request/", "/password/reset/", "/login"):
        page.goto(path)
        expect(page.locator("main h1")).to_be_focused()
    # A link to a part of a page keeps the browser's own target.
    page.goto("/documentation/#main")
    assert focused(page) == "MAIN#main"
    audit.assert_clean()


def test_the_checklist_says_which_rule_is_met_or_missing(
    page: Page, active_student: Any, settings: Any
) -> None:
    page.goto("/login?next=/account/password/")
    page.fill("#id_identifier", active_student.student_number)
    page.fill("#id_password", GOOD_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("main h1")).to_be_focused()
    live = page.locator("#password-live")
    n = settings.PASSWORD_MIN_LENGTH
    page.locator("input[name=password1]").type("Ent")
    expect(live).to_have_text(
        f"{n} caractères minimum : non respectée."
        " Caractères autorisés uniquement : respectée."
        f" Au moins {settings.PASSWORD_MIN_CLASSES} types de caractères différents : non respectée."
    )
    page.locator("input[name=password1]").type(".Perpignan2026")
    expect(live).to_have_text(
        f"{n} caractères minimum : respectée."
        " Caractères autorisés uniquement : respectée."
        f" Au moins {settings.PASSWORD_MIN_CLASSES} types de caractères différents : respectée."
    )
    page.locator(".lang-form button").click()  # English
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.locator("input[name=password1]").type("Ent.Perpignan2026é")
    expect(live).to_have_text(
        f"At least {n} characters: met. Allowed characters only: not met."
        f" At least {settings.PASSWORD_MIN_CLASSES} different types of characters: met."
    )


def test_update_request_shows_the_field_of_the_chosen_kind(page: Page, audit: Auditor) -> None:
    page.goto("/update-request/")
    values = page.locator("#kind-values")
    expect(values).to_be_hidden()  # no kind chosen yet: no value to give
    audit("update-request-01-empty")
    kind = page.locator("select[name=kind]")
    expected = {
        "name": ["new_first_name", "new_last_name"],
        "birth_date": ["new_birth_date_day", "new_birth_date_month", "new_birth_date_year"],
        "ine": ["new_ine"],
        "lost_email": ["new_email"],
    }
    every = [name for names in expected.values() for name in names]
    for choice, names in expected.items():
        kind.select_option(choice)
        expect(values).to_be_visible()
        for name in every:
            field = page.locator(f"[name={name}]")
            if name in names:
                expect(field).to_be_visible()
                expect(field).to_be_enabled()
            else:
                expect(field).to_be_hidden()
                expect(field).to_be_disabled()  # not posted
    kind.select_option("birth_date")
    expect(page.get_by_label("Jour")).to_be_visible()
    audit("update-request-02-birth-date")
    kind.select_option("other")
    expect(values).to_be_hidden()
    audit.assert_clean()


def test_update_request_without_javascript_shows_every_field(
    browser: Browser, ent_url: str
) -> None:
    context = browser.new_context(
        base_url=ent_url, viewport=DESKTOP, locale="fr-FR", java_script_enabled=False
    )
    try:
        tab = context.new_page()
        tab.goto("/update-request/")
        for name in (
            "new_first_name",
            "new_last_name",
            "new_birth_date_day",
            "new_ine",
            "new_email",
        ):
            expect(tab.locator(f"[name={name}]")).to_be_visible()
    finally:
        context.close()
