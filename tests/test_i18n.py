"""French first, English chosen by the browser or the switch."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import page_text

pytestmark = pytest.mark.django_db


def test_french_by_default(client: Client) -> None:
    page = page_text(client.get("/"))
    assert '<html lang="fr">' in page and "Activer mon compte" in page


def test_english_from_the_browser(client: Client) -> None:
    page = page_text(client.get("/activation/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9"))
    assert '<html lang="en">' in page
    assert "Activate my account" in page and "Student number" in page


def test_switch_keeps_the_choice(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/login"})
    assert response.status_code == 302 and response["Location"] == "/login"
    assert "Sign in" in page_text(client.get("/login")) or "Log in" in page_text(
        client.get("/login")
    )
    response = client.post(
        "/i18n/setlang/", {"language": "en", "next": "https://evil.example.com/"}
    )
    assert response["Location"] == "/"
