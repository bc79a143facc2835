"""The sessions of an account: recorded at login, ended together when the password changes.

Django already refuses a session whose password hash no longer matches; ending the sessions
explicitly also frees them in the store at once and lets the help desk see and end them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from ent.core import clock
from ent.core.net import client_ip

from .models import Account, AccountSession


def _store(session_key: str) -> Any:
    engine = import_module(settings.SESSION_ENGINE)
    return engine.SessionStore(session_key=session_key)


def sessions_end(*, account: Account, keep_key: str | None = None) -> int:
    """End every session of the account except ``keep_key``; returns how many were ended."""
    rows = list(AccountSession.objects.filter(account=account).exclude(session_key=keep_key or ""))
    for row in rows:
        _store(row.session_key).delete()
    AccountSession.objects.filter(pk__in=[r.pk for r in rows]).delete()
    return len(rows)


def sessions_active(account: Account) -> list[AccountSession]:
    """The recorded sessions of the account that still exist in the session store."""
    alive = []
    for row in AccountSession.objects.filter(account=account):
        if _store(row.session_key).exists(row.session_key):
            alive.append(row)
    return alive


@receiver(user_logged_in)
def _record(sender: Any, request: HttpRequest | None, user: Account, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    if request.session.session_key is None:
        request.session.save()
    key = request.session.session_key
    if key is None:
        return
    AccountSession.objects.update_or_create(
        session_key=key,
        defaults={
            "account": user,
            "created_at": clock.now(),
            "ip": client_ip(request),
            "user_agent": request.headers.get("User-Agent", "")[:200],
        },
    )


@receiver(user_logged_out)
def _forget(sender: Any, request: HttpRequest | None, user: Account | None, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session") and request.session.session_key:
        AccountSession.objects.filter(session_key=request.session.session_key).delete()
