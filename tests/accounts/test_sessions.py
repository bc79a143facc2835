"""The session index: every login recorded, the other sessions ended on demand."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ent.accounts.models import AccountSession
from ent.accounts.sessions import sessions_active, sessions_end
from tests.conftest import GOOD_PASSWORD

pytestmark = pytest.mark.django_db


def _login(student: Any) -> Client:
    client = Client()
    response = client.post(
        "/login", {"identifier": student.student_number, "password": GOOD_PASSWORD}
    )
    assert response.status_code == 302
    return client


def test_login_records_and_logout_forgets(active_student: Any) -> None:
    client = _login(active_student)
    account = active_student.account
    assert [s.session_key for s in sessions_active(account)] == [client.session.session_key]
    client.post("/logout")
    assert not AccountSession.objects.filter(account=account).exists()


def test_end_other_sessions_keeps_the_current_one(active_student: Any) -> None:
    phone, laptop, library = (_login(active_student) for _ in range(3))
    account = active_student.account
    assert len(sessions_active(account)) == 3
    assert sessions_end(account=account, keep_key=phone.session.session_key) == 2
    assert phone.get("/").context["user"].is_authenticated
    assert not laptop.get("/").context["user"].is_authenticated
    assert not library.get("/").context["user"].is_authenticated
    assert [s.session_key for s in sessions_active(account)] == [phone.session.session_key]
