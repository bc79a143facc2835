"""The demo outbox (demo mode only): mails a person can read in the browser."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from .models import OutboxMail


def _demo_only() -> None:
    if not settings.DEMO:
        raise Http404


def outbox(request: HttpRequest) -> HttpResponse:
    """Every mail sent in demo mode, newest first."""
    _demo_only()
    return render(request, "core/outbox.html", {"mails": OutboxMail.objects.all()[:200]})


def outbox_mail(request: HttpRequest, pk: int) -> HttpResponse:
    """One mail, as text (links clickable)."""
    _demo_only()
    return render(request, "core/outbox_mail.html", {"mail": get_object_or_404(OutboxMail, pk=pk)})


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers."""
    return HttpResponse("ok", content_type="text/plain")
