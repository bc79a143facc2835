"""The sessions of an account: recorded at login, ended together when the password changes
or when the account enters a state without sign-in (``ent.accounts.lifecycle``).

Django already refuses a session whose password hash no longer matches; ending the sessions
explicitly also frees them in the store at once and lets the help desk see and end them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import Signal, receiver
from django.http import HttpRequest

from ent.core import clock
from ent.core.fastsql import insert
from ent.core.net import client_ip

from .lifecycle import SIGNED_OUT_STATES, account_state_changed
from .models import Account, AccountSession


def _store(session_key: str) -> Any:
    engine = import_module(settings.SESSION_ENGINE)
    return engine.SessionStore(session_key=session_key)


# Sent after ``sessions_end`` with ``account`` and ``sessions``: a list of (session key, the
# session's data as it was). Ending a session this way sends no ``user_logged_out`` (there is no
# request of that session), so single sign-on listens here too: the services the ended sessions
# signed in to are logged out (CAS single logout, OIDC back-channel logout).
sessions_ended = Signal()


def sessions_end(*, account: Account, keep_key: str | None = None) -> int:
    """End every session of the account except ``keep_key``; returns how many were ended."""
    rows = list(AccountSession.objects.filter(account=account).exclude(session_key=keep_key or ""))
    ended: list[tuple[str, dict[str, Any]]] = []
    for row in rows:
        store = _store(row.session_key)
        ended.append((row.session_key, dict(store.load())))
        store.delete()
    AccountSession.objects.filter(pk__in=[r.pk for r in rows]).delete()
    if ended:
        sessions_ended.send(sender=Account, account=account, sessions=ended)
    return len(rows)


@receiver(account_state_changed, dispatch_uid="ent.accounts.sessions.state_changed")
def _end_on_sign_out(
    sender: Any, account: Account, new: str, **kwargs: Any
) -> dict[str, int] | None:
    """Entering a state without sign-in (locked, disabled) ends every session of the account;
    the count goes into the transition's audit record."""
    if new not in SIGNED_OUT_STATES:
        return None
    return {"sessions": sessions_end(account=account)}


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
    values = {
        "account": user,
        "created_at": clock.now(),
        "ip": client_ip(request),
        "user_agent": request.headers.get("User-Agent", "")[:200],
    }
    if getattr(request.session, "fresh_key", False):
        # A key made in this request (ent.core.session_db): no row can refer to it yet.
        insert(AccountSession(session_key=key, **values))  # built once (ent.core.fastsql)
    else:
        AccountSession.objects.update_or_create(session_key=key, defaults=values)


@receiver(user_logged_out)
def _forget(sender: Any, request: HttpRequest | None, user: Account | None, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session") and request.session.session_key:
        AccountSession.objects.filter(session_key=request.session.session_key).delete()
