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
