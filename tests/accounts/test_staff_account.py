"""``ent createsuperuser`` makes a staff account, under the same password policy."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from ent.accounts.models import Account
from ent.sso.services import LoginStatus, login_attempt

pytestmark = pytest.mark.django_db


def test_createsuperuser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "Helpdesk.Admin2026")
    call_command("createsuperuser", "--noinput", "--username", "admin", stdout=io.StringIO())
    admin = Account.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.is_active
    assert admin.kind == Account.Kind.STAFF and admin.student is None
    assert admin.check_password("Helpdesk.Admin2026")
    # Staff do not sign in through the student login (their own sign-in comes with TOTP).
    result = login_attempt(identifier="admin", password="Helpdesk.Admin2026", ip=None)
    assert result.status is LoginStatus.FAILED


def test_weak_staff_password_refused() -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        validate_password("admin2026", Account(username="admin"))
