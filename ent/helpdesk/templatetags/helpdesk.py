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
