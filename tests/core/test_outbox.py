"""The demo outbox exists only in demo mode."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from ent.core.mail import mail_send
from ent.core.models import OutboxMail

pytestmark = pytest.mark.django_db


def test_outbox_keeps_and_shows_mails(client: Client, settings: Any) -> None:
    settings.EMAIL_BACKEND = "ent.core.mail.DemoOutboxBackend"
    mail_send(
        to="ada@example.org",
        template="activation",
        context={"full_name": "Ada Lovelace", "link": "http://127.0.0.1:8000/x", "hours": 48},
    )
    assert mail.outbox == []  # kept in the database, not sent
    kept = OutboxMail.objects.get()
    assert kept.to == "ada@example.org" and kept.body_html
    assert b"Ada Lovelace" in client.get(f"/demo/outbox/{kept.pk}").content
    assert client.get("/demo/outbox").status_code == 200


def test_no_outbox_outside_demo(client: Client, settings: Any) -> None:
    settings.DEMO = False
    assert client.get("/demo/outbox").status_code == 404
    assert client.get("/demo/outbox/1").status_code == 404
