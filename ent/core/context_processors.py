"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def university(request: HttpRequest) -> dict[str, Any]:
    """The university's names and contacts, and whether the demo outbox exists."""
    return {
        "university_name": settings.UNIVERSITY_NAME,
        "university_short_name": settings.UNIVERSITY_SHORT_NAME,
        "helpdesk_email": settings.HELPDESK_EMAIL,
        "demo_mode": settings.DEMO,
        "mail_from": settings.MAIL_FROM,
        "charter_version": settings.CHARTER_VERSION,
    }
