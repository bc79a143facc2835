"""The demo's help-desk administrator (``ent demo`` only, never outside demo mode)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.models import Group

from ent.accounts.models import Account

from .roles import Role

DEMO_ADMIN = "demo-admin"


def demo_admin_reset() -> str:
    """Create or reset the demo administrator; returns its new random password.

    The password is drawn afresh at every start and only printed on the console: there is no
    fixed password, even in a demo. The TOTP device is kept, so the authenticator application
    enrolled at the first sign-in keeps working.
    """
    if not settings.DEMO:
        raise RuntimeError("the demo administrator exists in demo mode only")
    password = "Demo." + secrets.token_hex(8) + "7A"
    account = Account.objects.filter(username=DEMO_ADMIN).first()
    if account is None:
        account = Account.objects.create_user(
            DEMO_ADMIN, password, personal_email=f"{DEMO_ADMIN}@{settings.STUDENT_MAIL_DOMAIN}"
        )
    else:
        account.set_password(password)
        account.state = Account.State.ACTIVE
        account.save()
    account.groups.set([Group.objects.get_or_create(name=Role.ADMINISTRATOR.value)[0]])
    return password
