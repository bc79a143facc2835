"""The ENT home page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from ent.sso.models import Service

# The registry slug that replaces the built-in webmail tile (a university that registers its
# own webmail, e.g. a Roundcube behind CAS, or the demo's registration of this one).
WEBMAIL_SLUG = "webmail"


def builtin_webmail_tile() -> Service:
    """The tile of ENT's own webmail (``/webmail/``): an unsaved Service, for the template.

    The guide's first step of forwarding is "Mon espace / Webmail Etudiant": the tile is there
    for every signed-in student, whatever the registry holds.
    """
    return Service(
        slug=WEBMAIL_SLUG,
        name=_("Webmail étudiant"),
        description=_("Votre messagerie de l'université."),
        icon=Service.Icon.MAIL,
        home_url=reverse("webmail:index"),
    )


def home(request: HttpRequest) -> HttpResponse:
    """Signed in: "Bonjour Prénom Nom" and the service tiles. Anonymous: the four entries."""
    services: list[Service] = []
    if request.user.is_authenticated:
        # Every enabled service with a tile: each signs the student in through CAS or OIDC.
        services = list(Service.objects.filter(enabled=True, show_on_portal=True))
        is_student = getattr(request.user, "student", None) is not None
        if is_student and not Service.objects.filter(slug=WEBMAIL_SLUG).exists():
            services.insert(0, builtin_webmail_tile())
    return render(request, "portal/home.html", {"services": services})
