"""Template helpers of the help desk."""

from __future__ import annotations

from typing import Any

from django import template

from ent.helpdesk.roles import Role, role_of

register = template.Library()


@register.simple_tag
def is_administrator(user: Any) -> bool:
    """Whether the signed-in staff member may see the administrator pages."""
    return role_of(user) == Role.ADMINISTRATOR


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
