"""``/documentation/``: generated from the settings and the real mail templates."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.conftest import page_text

pytestmark = pytest.mark.django_db


def test_sections_in_french(client: Client) -> None:
    response = client.get("/documentation/")
    assert response.status_code == 200
    text = page_text(response)
    for heading in (
        "Activer son compte",
        "Règles du mot de passe",
        "Le mail d'activation",
        "Transférer vos mails vers votre adresse personnelle",
        "Mot de passe oublié, changement de mot de passe ou d'adresse",
        "En cas de problème",
        "Contacter l'assistance",
    ):
        assert heading in text, heading
    assert "Courrier / Filtres" in text and "garder une copie" in text
    assert "assistance@univ-perp.fr" in text
    html = response.content.decode()
    assert 'href="/update-request/"' in html and 'href="/password/reset/"' in html


def test_sample_mail_is_the_real_template(client: Client, settings: Any) -> None:
    settings.UNIVERSITY_SHORT_NAME = "UM"
    settings.MAIL_FROM = "ne-pas-repondre@umontpellier.fr"
    text = page_text(client.get("/documentation/"))
    assert "Activation de votre compte à l'UM" in text
    assert "ne-pas-repondre@umontpellier.fr" in text
    assert "Bonjour Blaise Pascal" in text
    assert "En suivant le lien suivant vous finaliserez la procédure d'activation" in text
    assert f"{settings.BASE_URL}/activation/confirm?code=N4QWQ6FVIT6451ACN54P" in text
    assert "Réinitialisation de votre mot de passe à l'UM" in text


def test_password_rules_follow_the_settings(client: Client, settings: Any) -> None:
    text = page_text(client.get("/documentation/"))
    assert "8 caractères minimum" in text and "Au moins 3 types" in text
    assert "! . @ # + : < > $ %" in text
    settings.PASSWORD_MIN_LENGTH = 12
    settings.PASSWORD_MIN_CLASSES = 4
    settings.PASSWORD_SPECIALS = "!?"
    settings.PASSWORD_RESET_CODE_MINUTES = 30
    text = page_text(client.get("/documentation/"))
    assert "12 caractères minimum" in text and "8 caractères minimum" not in text
    assert "Au moins 4 types" in text and "Caractères spéciaux : ! ?" in text
    assert "valable 30 minutes" in text


def test_in_english(client: Client) -> None:
    client.cookies["ent_language"] = "en"
    response = client.get("/documentation/")
    assert response.status_code == 200
    assert 'lang="en"' in response.content.decode()


def test_mail_client_section_in_french(client: Client, settings: Any) -> None:
    """ "Lire ma messagerie sur mon téléphone": the servers come from the settings."""
    text = page_text(client.get("/documentation/"))
    assert "Lire ma messagerie sur mon téléphone" in text
    assert "imap.univ-perp.fr, port 993, sécurité SSL/TLS" in text
    assert "smtp.univ-perp.fr, port 587, sécurité STARTTLS" in text
    assert "votre adresse de l'université ou votre numéro étudiant" in text
    assert "votre mot de passe de l'ENT" in text
    assert "(…@etudiant.univ-perp.fr)" in text
    settings.IMAP_PUBLIC_HOST = "mail.umontpellier.fr"
    settings.IMAP_PUBLIC_PORT = 1993
    settings.SMTP_SUBMISSION_HOST = "smtp.umontpellier.fr"
    settings.SMTP_SUBMISSION_PORT = 2587
    html = client.get("/documentation/").content.decode()
    assert 'href="#telephone"' in html and 'id="telephone"' in html
    text = page_text(client.get("/documentation/"))
    assert "mail.umontpellier.fr, port 1993, sécurité SSL/TLS" in text
    assert "smtp.umontpellier.fr, port 2587, sécurité STARTTLS" in text
    assert "imap.univ-perp.fr" not in text


def test_mail_client_section_in_english(client: Client) -> None:
    client.cookies["ent_language"] = "en"
    text = page_text(client.get("/documentation/"))
    assert "Reading my mail on my phone" in text
    assert "Lire ma messagerie" not in text
    assert "imap.univ-perp.fr, port 993, SSL/TLS security" in text
    assert "smtp.univ-perp.fr, port 587, STARTTLS security" in text
    assert "your university address or your student number" in text
    assert "your ENT password" in text
