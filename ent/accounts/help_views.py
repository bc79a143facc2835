"""Documentation and the help entries of the home page.

Password recovery and update requests are built on top of activation (next milestone); until
they exist, their pages tell the student the one thing that works today: write to the help
desk, with what to include and what never to send.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from . import password_policy


def documentation(request: HttpRequest) -> HttpResponse:
    """How to activate, the password rules (from the settings), what the mail looks like."""
    return render(
        request,
        "accounts/documentation.html",
        {
            "rules": password_policy.rules(),
            "code_hours": settings.ACTIVATION_CODE_HOURS,
            "free_failures": settings.THROTTLE_FREE_FAILURES,
            "example_link": f"{settings.BASE_URL}/activation/confirm?code=N4QWQ6FVIT6451ACN54P",
        },
    )


def password_reset(request: HttpRequest) -> HttpResponse:
    """Forgotten password: the help desk, for now."""
    return render(request, "accounts/contact_helpdesk.html", {"topic": "reset"})


def update_request(request: HttpRequest) -> HttpResponse:
    """Wrong data: the help desk, for now."""
    return render(request, "accounts/contact_helpdesk.html", {"topic": "update"})
