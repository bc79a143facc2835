"""Template helpers of the help desk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django import template
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy

from ent.helpdesk.roles import Role, role_of

register = template.Library()


@register.simple_tag
def is_administrator(user: Any) -> bool:
    """Whether the signed-in staff member may see the administrator pages."""
    return role_of(user) == Role.ADMINISTRATOR


@register.filter
def age(seconds: float | None) -> str:
    """A duration in words, at most two units (``1 heure, 5 minutes``): how long the oldest
    change of a queue has waited. Django's words, so in the language of the page."""
    now = datetime(2000, 1, 1)  # any moment: only the difference counts
    return timesince(now - timedelta(seconds=float(seconds or 0)), now)


@register.filter
def mask_ine(value: Any) -> str:
    """An INE with all but its last 4 characters hidden (``•••••••89AB``).

    Student number + INE is what the anonymous forms ask for: an agent (or whoever looks at
    their screen) must not be able to read it off the help desk. Searching by INE still works.
    """
    text = str(value or "")
    if not text:
        return ""
    visible = 4 if len(text) > 4 else 0
    return "•" * (len(text) - visible) + text[len(text) - visible :]


@dataclass(frozen=True)
class Change:
    """One field an audited correction changed, as the account history shows it."""

    label: str
    before: Any
    after: Any
    is_date: bool = False


# The directory fields a correction can change (ent.accounts.update_request._apply), in the
# order the history lists them.
_CHANGE_LABELS = {
    "last_name": gettext_lazy("Nom"),
    "first_name": gettext_lazy("Prénom"),
    "birth_date": gettext_lazy("Date de naissance"),
    "ine": gettext_lazy("Code INE"),
}


@register.filter
def audit_changes(event: Any) -> list[Change]:
    """Before → after of each field an audit event records in ``data["fields"]``.

    Dates are given back as dates (the template formats them as the rest of the page does);
    an INE is masked like everywhere else at the help desk.
    """
    data = getattr(event, "data", None)
    fields = data.get("fields") if isinstance(data, dict) else None
    if not isinstance(fields, dict):
        return []
    changes = []
    for name, label in _CHANGE_LABELS.items():
        pair = fields.get(name)
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            continue
        before, after = pair
        if name == "birth_date":
            try:
                changes.append(
                    Change(str(label), date.fromisoformat(before), date.fromisoformat(after), True)
                )
            except (TypeError, ValueError):
                changes.append(Change(str(label), before, after))
        elif name == "ine":
            changes.append(Change(str(label), mask_ine(before), mask_ine(after)))
        else:
            changes.append(Change(str(label), before, after))
    return changes
