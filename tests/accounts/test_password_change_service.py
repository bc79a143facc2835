"""Changing the password once signed in: the service."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from ent.accounts.models import Account
from ent.accounts.password_change import WrongPasswordError, password_change, password_verify
from ent.core.models import AuditEvent
from tests.accounts.selfservice import NEW_PASSWORD, is_signed_in, signed_in
from tests.conftest import GOOD_PASSWORD, SMTPCatcher, text_body

pytestmark = pytest.mark.django_db


def test_change_keeps_this_session_ends_the_others(
    active_student: Any, smtp_server: SMTPCatcher
) -> None:
    here, elsewhere = signed_in(active_student), signed_in(active_student)
    ended = password_change(
        account=active_student.account,
        current_password=GOOD_PASSWORD,
        new_password=NEW_PASSWORD,
        ip="192.0.2.5",
        keep_session_key=here.session.session_key,
    )
    assert ended == 1
    assert not is_signed_in(elsewhere)
    assert Account.objects.get(pk=active_student.account.pk).check_password(NEW_PASSWORD)
    notice = smtp_server.wait_for(1)[0]
    assert notice["Subject"] == "Votre mot de passe a été modifié"
    assert "192.0.2.5" in text_body(notice) and NEW_PASSWORD not in text_body(notice)
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.PASSWORD_CHANGED).count() == 1


def test_wrong_current_password_is_throttled(active_student: Any, settings: Any) -> None:
    account = active_student.account
    for _ in range(settings.THROTTLE_FREE_FAILURES - 1):
        with pytest.raises(WrongPasswordError) as caught:
            password_verify(account=account, password="Wrong.Guess2026", ip=None)
        assert caught.value.retry_at is None
    with pytest.raises(WrongPasswordError) as caught:
        password_verify(account=account, password="Wrong.Guess2026", ip=None)
    assert caught.value.retry_at is not None
    # Throttled: even the right password waits.
    with pytest.raises(WrongPasswordError):
        password_verify(account=account, password=GOOD_PASSWORD, ip=None)


def test_new_password_must_follow_the_policy(active_student: Any) -> None:
    for bad in ("court", GOOD_PASSWORD):
        with pytest.raises(ValidationError):
            password_change(
                account=active_student.account,
                current_password=GOOD_PASSWORD,
                new_password=bad,
                ip=None,
                keep_session_key=None,
            )
    assert Account.objects.get(pk=active_student.account.pk).check_password(GOOD_PASSWORD)
