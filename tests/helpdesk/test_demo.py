"""``ent demo`` creates a help-desk administrator with a fresh random password each time."""

from __future__ import annotations

import pytest

from ent.accounts.models import Account
from ent.helpdesk.demo import DEMO_ADMIN, demo_admin_reset
from ent.helpdesk.roles import Role, role_of

pytestmark = pytest.mark.django_db


def test_demo_admin_password_changes_at_each_start() -> None:
    first = demo_admin_reset()
    second = demo_admin_reset()
    assert first != second
    admin = Account.objects.get(username=DEMO_ADMIN)
    assert admin.check_password(second) and not admin.check_password(first)
    assert role_of(admin) == Role.ADMINISTRATOR


def test_demo_admin_only_in_demo(settings: object) -> None:
    settings.DEMO = False  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError):
        demo_admin_reset()
