"""The guide's last part in a real browser, then a real mail through the local receiver.

"1) Se connecter à l'ENT, Mon espace / Webmail Etudiant; 2) Courrier/Filtres et choisir
Transfert; 3) Renseigner votre adresse personnelle et garder une copie des messages dans ce
compte puis Enregistrer." Then a message delivered to the institutional address (the
``deliver`` fixture: the local store's receiver) arrives at the personal address (the real SMTP
server of ``smtp_server``) and stays in the INBOX. Every filters page is audited with axe-core
(WCAG 2.1 AA) at 375 px and 1280 px (screenshots ``webmail-filters-*``).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ent.directory.models import Student
from tests.conftest import GOOD_PASSWORD, SMTPCatcher
from tests.e2e.conftest import Auditor

# The local store and its receiver, as the webmail tests use them.
from tests.webmail.conftest import (  # noqa: F401
    deliver,
    dovecot_server,
    dovecot_store,
    mail_backend,
    new_mailbox,
    store,
)
from tests.webmail.mails import make_mail

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PERSONAL = "sophie.germain@example.org"


def sign_in(page: Page, ent_url: str, student_number: str) -> None:
    """Step 1: sign in on the ENT portal."""
    page.goto("/")
    page.get_by_role("link", name="Se connecter à l'ENT").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(ent_url)}/login"))
    page.get_by_label("Identifiant").fill(student_number)
    page.get_by_label("Mot de passe").fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(f"{ent_url}/")


def test_guide_three_steps_then_mail_arrives_with_a_copy(
    page: Page,
    audit: Auditor,
    ent_url: str,
    new_mailbox: Any,  # noqa: F811
    store: Any,  # noqa: F811
    deliver: Any,  # noqa: F811
    smtp_server: SMTPCatcher,
) -> None:
    mailbox = new_mailbox(personal_email=PERSONAL, first_name="Sophie", last_name="Germain")
    student = Student.objects.get(institutional_email=mailbox)

    # 1) Se connecter à l'ENT, Mon espace / Webmail Etudiant.
    sign_in(page, ent_url, student.student_number)
    page.get_by_role("link", name=re.compile("^Webmail étudiant")).click()
    expect(page).to_have_url(f"{ent_url}/webmail/folder/INBOX/")

    # 2) Courrier / Filtres, et choisir Transfert.
    page.get_by_role("navigation", name="Courrier").get_by_role("link", name="Filtres").click()
    expect(page).to_have_url(f"{ent_url}/webmail/filters/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Filtres")
    expect(page.locator("main")).to_contain_text("Désactivé : vos messages restent dans ce compte.")
    audit("webmail-filters-01-list")
    page.get_by_role("link", name=re.compile("^Transfert")).click()
    expect(page).to_have_url(f"{ent_url}/webmail/filters/forwarding/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Transfert")
    audit("webmail-filters-02-forwarding-form")

    # 3) Renseigner votre adresse personnelle (already there: the verified one), garder une
    # copie des messages dans ce compte, puis Enregistrer.
    address = page.get_by_label("Adresse de transfert")
    expect(address).to_have_value(PERSONAL)
    page.get_by_label("Conserver une copie des messages dans ce compte").check()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page).to_have_url(f"{ent_url}/webmail/filters/forwarding/")
    expect(page.locator(".messages")).to_contain_text(
        f"Le transfert vers {PERSONAL} est enregistré."
    )
    expect(page.locator("#forwarding-state")).to_contain_text(
        f"transférés vers {PERSONAL}, une copie est conservée dans ce compte"
    )
    audit("webmail-filters-03-forwarding-on")

    # A mistake is shown on the field, with what was typed kept.
    address.fill(mailbox)
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#error-summary")).to_contain_text("C'est votre adresse de l'université")
    expect(page.get_by_label("Adresse de transfert")).to_have_value(mailbox)
    audit("webmail-filters-04-forwarding-error")

    # The notification of the change reached the personal address.
    notice = smtp_server.wait_for(1)[0]
    assert notice["Subject"] == "Le transfert de vos mails a été modifié"

    # A mail to the institutional address: forwarded, and a copy stays in the INBOX.
    raw = make_mail(
        to=mailbox,
        sender="Scolarité <scolarite@univ-perp.fr>",
        subject="Convocation aux examens",
        body="Bonjour, vous êtes convoquée le 12 janvier.\n",
    )
    deliver(mailbox, raw)
    received = smtp_server.wait_for(2)
    forwarded = [m for m in received if m["Subject"] == "Convocation aux examens"]
    assert len(forwarded) == 1, [m["Subject"] for m in received]
    assert PERSONAL in smtp_server.envelopes[received.index(forwarded[0])][1]
    inbox = store.messages(mailbox, "INBOX")
    assert [m.subject for m in inbox.messages] == ["Convocation aux examens"]

    # Répondeur, on the same Filtres page.
    page.goto("/webmail/filters/")
    expect(page.locator("main")).to_contain_text(f"transférés vers {PERSONAL}")
    page.get_by_role("link", name=re.compile("^Répondeur")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Répondeur")
    audit("webmail-filters-05-vacation")

    # Turning forwarding off.
    page.goto("/webmail/filters/forwarding/")
    page.get_by_role("button", name="Arrêter le transfert").click()
    expect(page.locator("#forwarding-state")).to_have_text(
        "Désactivé : vos messages restent dans ce compte."
    )
    assert store.forwarding(mailbox) is None

    audit.assert_clean()
