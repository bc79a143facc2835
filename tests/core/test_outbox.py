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


def test_a_forwarded_mail_shows_its_author_and_the_envelope_apart(
    client: Client, settings: Any
) -> None:
    """A redirect goes out with the forwarding mailbox as envelope sender: the page used to show
    that as « De », so the real author appeared nowhere."""
    from django.db import transaction

    from ent.core.mail import mail_send_raw

    settings.EMAIL_BACKEND = "ent.core.mail.DemoOutboxBackend"
    raw = (
        b"From: Scolarite <scolarite@univ-perp.fr>\r\n"
        b"To: ada.lovelace@etudiant.univ-perp.fr\r\n"
        b"Subject: Inscriptions\r\n"
        b"Message-ID: <fwd-1@univ-perp.fr>\r\n\r\n"
        b"Bonjour\r\n"
    )
    with transaction.atomic():
        mail_send_raw(
            sender="ada.lovelace@etudiant.univ-perp.fr",
            recipients=["ada@example.org"],
            raw=raw,
            key="redirect:test",
        )
    kept = OutboxMail.objects.get()
    html = client.get(f"/demo/outbox/{kept.pk}").content.decode()
    headers, envelope = html.split("Enveloppe (ce que voit le serveur de messagerie)")
    assert '<dt>De</dt><dd class="break">Scolarite &lt;scolarite@univ-perp.fr&gt;</dd>' in headers
    assert "ada.lovelace@etudiant.univ-perp.fr</dd>" in headers  # the To header
    assert "ada@example.org" not in headers
    assert 'Expéditeur</dt><dd class="break">ada.lovelace@' in envelope
    assert "ada@example.org" in envelope
