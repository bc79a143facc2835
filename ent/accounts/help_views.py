"""The update-request entry of the home page.

Until update requests exist, the page tells the student the one thing that works today: write
to the help desk, with what to include and what never to send. (Documentation and password
recovery moved to ``documentation_views`` and ``views_selfservice``.)
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def update_request(request: HttpRequest) -> HttpResponse:
    """Wrong data: the help desk, for now."""
    return render(request, "accounts/contact_helpdesk.html", {"topic": "update"})
