"""Who may do what at the help desk: the one place where staff permissions are checked.

Two roles, as Django groups created by a migration: **agent** (search, view, resend the
activation mail, send a reset link, handle update requests, lock/unlock) and
**administrator** (also: disable accounts, manage staff, the settings page). Administrators
have every agent right; a superuser (``ent createsuperuser``) is an administrator.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from ent.accounts.models import Account


class Role(StrEnum):
    """A staff role; the value is the name of its Django group."""

    AGENT = "agent"
    ADMINISTRATOR = "administrator"


ROLE_LABELS = {Role.AGENT: _("Agent"), Role.ADMINISTRATOR: _("Administrateur")}


def role_of(account: Account | AnonymousUser | Any) -> Role | None:
    """The role of an active staff account (the highest), or None for anyone else."""
    if not isinstance(account, Account) or not account.is_staff or not account.is_active:
        return None
    if account.is_superuser:
        return Role.ADMINISTRATOR
    names = set(account.groups.values_list("name", flat=True))
    if Role.ADMINISTRATOR in names:
        return Role.ADMINISTRATOR
    if Role.AGENT in names:
        return Role.AGENT
    return None


def has_role(account: Account | AnonymousUser | Any, role: Role) -> bool:
    """Administrators include agent rights."""
    actual = role_of(account)
    if actual is None:
        return False
    return actual == Role.ADMINISTRATOR or actual == role


View = TypeVar("View", bound=Callable[..., HttpResponse])


def staff_required(role: Role) -> Callable[[View], View]:
    """Decorate a help-desk view: a staff session verified with TOTP, holding ``role``.

    Not signed in, or signed in with a password but no TOTP code yet: to the help-desk sign-in.
    Signed in as a student, or as staff without the role: 403.
    """

    def decorator(view: View) -> View:
        # Help-desk pages show personal data: never kept in a browser or proxy cache.
        @never_cache
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect("helpdesk:login")
            if not isinstance(user, Account) or not user.is_staff:
                raise PermissionDenied
            if not getattr(user, "is_verified", lambda: False)():
                return redirect("helpdesk:login")
            if not has_role(user, role):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
