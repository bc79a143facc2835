"""The table of mailed-link purposes (``ent.core.codes.LINK_PURPOSES``) and its helpers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.template.loader import get_template
from django.test import Client
from django.urls import reverse

from ent.core import session_keys
from ent.core.codes import (
    LINK_PURPOSES,
    CodeStatus,
    code_issue,
    code_lookup,
    link_cap_reached,
    link_lifetime,
    link_url,
    links_per_hour,
)
from ent.core.models import OneTimeCode
from tests.accounts.selfservice import code_in, outbox


@pytest.mark.parametrize("purpose", list(OneTimeCode.Purpose))
def test_every_purpose_has_a_table_entry(purpose: OneTimeCode.Purpose) -> None:
    entry = LINK_PURPOSES[purpose]
    assert reverse(entry.url_name).startswith("/")
    assert isinstance(getattr(django_settings, entry.lifetime_setting), int)
    assert entry.lifetime_unit in ("hours", "minutes")
    assert link_lifetime(purpose) > timedelta(0)
    if entry.cap_setting is not None:
        assert isinstance(getattr(django_settings, entry.cap_setting), int)
        assert links_per_hour(purpose) == getattr(django_settings, entry.cap_setting) + (
            entry.cap_extra
        )
    else:
        assert links_per_hour(purpose) is None
    assert entry.templates
    for template in entry.templates:
        get_template(f"mail/{template}.txt")
        get_template(f"mail/{template}_subject.txt")
    assert entry.session_key in vars(session_keys).values()
    assert entry.on_success.startswith("ent.")


def test_the_table_has_no_other_entry() -> None:
    assert set(LINK_PURPOSES) == set(OneTimeCode.Purpose)


def test_caps_and_lifetimes_come_from_the_settings(settings: Any) -> None:
    settings.EMAIL_CHANGE_LINKS_PER_HOUR = 7
    settings.FORWARD_VERIFY_LINKS_PER_HOUR = 2
    settings.PASSWORD_RESET_LINKS_PER_HOUR = 9
    settings.ACTIVATION_RESEND_PER_HOUR = 3
    settings.PASSWORD_RESET_CODE_MINUTES = 25
    assert links_per_hour(OneTimeCode.Purpose.EMAIL_CHANGE) == 7
    assert links_per_hour(OneTimeCode.Purpose.FORWARD_VERIFY) == 2
    assert links_per_hour(OneTimeCode.Purpose.PASSWORD_RESET) == 9
    assert links_per_hour(OneTimeCode.Purpose.ACTIVATION) == 4  # the first link is no resend
    assert links_per_hour(OneTimeCode.Purpose.STAFF_INVITE) is None
    assert link_lifetime(OneTimeCode.Purpose.PASSWORD_RESET) == timedelta(minutes=25)


def test_link_url_is_reverse_on_the_base_url(settings: Any) -> None:
    settings.BASE_URL = "https://ent.example.edu"
    assert (
        link_url(OneTimeCode.Purpose.PASSWORD_RESET, "ABC")
        == "https://ent.example.edu/password/reset/confirm?code=ABC"
    )
    assert (
        link_url(OneTimeCode.Purpose.FORWARD_VERIFY, "XYZ")
        == "https://ent.example.edu/webmail/filters/forwarding/confirm?code=XYZ"
    )


@pytest.mark.django_db
def test_code_issue_defaults_to_the_purpose_lifetime(make_active_student: Any) -> None:
    account = make_active_student(email="life@example.org").account
    row, code = code_issue(
        purpose=OneTimeCode.Purpose.EMAIL_CHANGE, account=account, email="new@example.org"
    )
    assert row.expires_at - row.created_at == link_lifetime(OneTimeCode.Purpose.EMAIL_CHANGE)
    assert code_lookup(OneTimeCode.Purpose.EMAIL_CHANGE, code) == (CodeStatus.VALID, row)


@pytest.mark.django_db
def test_link_cap_counts_the_last_hour(settings: Any, make_active_student: Any) -> None:
    settings.EMAIL_CHANGE_LINKS_PER_HOUR = 2
    account = make_active_student(email="cap@example.org").account
    purpose = OneTimeCode.Purpose.EMAIL_CHANGE
    for _ in range(2):
        assert not link_cap_reached(account=account, purpose=purpose)
        code_issue(purpose=purpose, account=account, email="new@example.org")
    assert link_cap_reached(account=account, purpose=purpose)


@pytest.mark.django_db
def test_mailed_link_ignores_a_foreign_host_header(settings: Any, make_active_student: Any) -> None:
    """The link is built from the configured base URL, never from the request's Host."""
    settings.BASE_URL = "https://ent.example.edu"
    settings.ALLOWED_HOSTS = ["*"]
    student = make_active_student(email="host@example.org")
    before = len(outbox())
    response = Client(HTTP_HOST="evil.example.net").post(
        "/password/reset/", {"identifier": student.student_number}
    )
    assert response.status_code == 200
    mails = outbox()[before:]
    assert len(mails) == 1
    body = mails[0].body
    code = code_in(body)
    assert f"https://ent.example.edu/password/reset/confirm?code={code}" in body
    assert "evil.example.net" not in body


@pytest.mark.django_db
def test_landing_moves_the_code_to_the_session(client: Client) -> None:
    response = client.get("/password/reset/confirm?code=ABCDEF")
    assert response.status_code == 302
    assert response["Location"] == "/password/reset/confirm"
    assert response["Referrer-Policy"] == "no-referrer"
    assert client.session[session_keys.PASSWORD_RESET_LINK_CODE] == "ABCDEF"
