"""The ENT home page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    """Signed in: "Bonjour Prénom Nom". Anonymous: the four entries of the guide."""
    return render(request, "portal/home.html")
