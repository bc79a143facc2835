"""What the help-desk views share: the signed-in staff member, pagination, a confirmed action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.http import HttpRequest

from ent.accounts.models import Account

from .. import services

PER_PAGE = 25


def _actor(request: HttpRequest) -> Account:
    """The staff member of a ``staff_required`` page."""
    assert isinstance(request.user, Account)
    return request.user


def _page(request: HttpRequest, items: Any, per_page: int = PER_PAGE) -> Page[Any]:
    """The page of ``items`` asked by ``?page=``."""
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def _run(request: HttpRequest, action: Callable[[], Any], done: str) -> None:
    """Run a service call; confirm with ``done``, or show the service's refusal."""
    try:
        action()
    except services.ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
