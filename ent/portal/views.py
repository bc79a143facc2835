"""The ENT home page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ent.sso.models import Service


def home(request: HttpRequest) -> HttpResponse:
    """Signed in: "Bonjour Prénom Nom" and the service tiles. Anonymous: the four entries."""
    services = []
    if request.user.is_authenticated:
        # Every enabled service with a tile: each signs the student in through CAS or OIDC.
        services = list(Service.objects.filter(enabled=True, show_on_portal=True))
    return render(request, "portal/home.html", {"services": services})
