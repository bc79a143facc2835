"""Helpers shared by the self-service tests (reset, change, address, profile)."""

from __future__ import annotations

import re
from typing import Any

from django.core import mail
from django.test import Client

from ent.core.mail import mail_queue_run
from tests.conftest import GOOD_PASSWORD

NEW_PASSWORD = "Nouveau.Depart2027"
RESET_RE = re.compile(r"/password/reset/confirm\?code=([A-Z0-9]{20})")
EMAIL_RE = re.compile(r"/account/email/confirm\?code=([A-Z0-9]{20})")


def signed_in(student: Any, password: str = GOOD_PASSWORD) -> Client:
    """A new browser signed in as the student through the real login form."""
    client = Client()
    response = client.post("/login", {"identifier": student.student_number, "password": password})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def is_signed_in(client: Client) -> bool:
    """Whether the client's session still belongs to someone."""
    return bool(client.get("/").context["user"].is_authenticated)


def outbox() -> list[Any]:
    """``mail.outbox`` once the mail queue is drained."""
    mail_queue_run()
    return list(mail.outbox)


def code_in(body: str, pattern: re.Pattern[str] = RESET_RE) -> str:
    """The code of the link in a mail body."""
    match = pattern.search(body)
    assert match, body
    return match.group(1)
