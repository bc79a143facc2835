"""The help desk and the update-request page exist in English too."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.conftest import page_text

pytestmark = pytest.mark.django_db


def test_update_request_in_english(client: Client) -> None:
    page = page_text(client.get("/update-request/", HTTP_ACCEPT_LANGUAGE="en"))
    assert '<html lang="en">' in page
    assert "Subject of the request" in page and "Send the request" in page


def test_helpdesk_in_english(agent_client: Client, make_student: Any) -> None:
    agent_client.post("/i18n/setlang/", {"language": "en", "next": "/helpdesk/"})
    page = page_text(agent_client.get("/helpdesk/"))
    assert "Help desk dashboard" in page and "Activations per day (last 30 days)" in page
    assert "0 requests to handle" in page
