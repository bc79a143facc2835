"""``ent demo``: each demo INBOX starts with a welcome message, once."""

from __future__ import annotations

import email
import email.policy
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from ent.directory.demo import DEMO_STUDENTS
from ent.directory.models import Student
from ent.webmail.backends.local import INBOX, LocalStore
from ent.webmail.demo import demo_mailboxes_seed

pytestmark = pytest.mark.django_db


def test_welcome_message_seeded_once_in_french(
    settings: Any, tmp_path: Path, make_student: Any
) -> None:
    settings.MAIL_DIR = tmp_path / "mail"
    student = make_student(first_name="Ada", last_name="Lovelace")
    assert demo_mailboxes_seed([student]) == 1
    assert demo_mailboxes_seed([student]) == 0  # not empty any more
    store = LocalStore()
    (summary,) = store.messages(student.institutional_email, INBOX).messages
    assert summary.subject == "Bienvenue dans votre messagerie étudiante" and summary.unread
    message = email.message_from_bytes(
        store.message(student.institutional_email, INBOX, summary.uid), policy=email.policy.default
    )
    body = message.get_body().get_content()  # type: ignore[union-attr]
    assert "Bonjour Ada Lovelace," in body
    assert "Courrier › Filtres › Transfert" in body and student.institutional_email in body


def test_demo_command_seeds_every_demo_mailbox(settings: Any, tmp_path: Path) -> None:
    settings.MAIL_DIR = tmp_path / "mail"
    out = StringIO()
    call_command("demo", no_serve=True, stdout=out)
    assert "5 welcome message(s) added" in out.getvalue()
    store = LocalStore()
    for row in DEMO_STUDENTS:
        address = Student.objects.get(student_number=row.student_number).institutional_email
        assert store.messages(address, INBOX).total == 1
