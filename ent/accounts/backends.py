"""The authentication backend: sessions of active accounts only.

``authenticate`` always returns None: every sign-in goes through
``ent.sso.services.login_attempt``, which applies throttling and auditing first. A second
path that checked passwords (Django's ModelBackend, the admin login) would bypass both.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend
from django.http import HttpRequest

from .models import Account

PATH = "ent.accounts.backends.AccountBackend"


class AccountBackend(BaseBackend):
    """Restores the account of a session if it is still active."""

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> None:
        return None

    def get_user(self, user_id: int) -> Account | None:
        account = Account.objects.select_related("student").filter(pk=user_id).first()
        if account is None or not account.is_active:
            return None
        return account
