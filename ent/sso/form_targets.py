"""Where the ENT sign-in form leads: the services its Content-Security-Policy must allow.

``/login?next=/cas/login?service=…`` posts the password to ``/login``, which redirects to
``/cas/login``, which redirects to the service with its ticket; ``next=/oauth/authorize/?…``
ends the same way at a trusted relying party's ``redirect_uri``. Chromium checks every hop of
that chain against the ``form-action`` of the login page (see ``ent.core.csp``), so the page
must name the service's origin. Only what the registry vouches for is named: a CAS service URL
that an enabled entry matches, an OIDC redirect URI registered, exactly, for the client.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from django.urls import reverse
from oauth2_provider.models import Application

from . import cas
from .models import Service
from .oidc import client_id_plausible, service_of


def _single(query: dict[str, list[str]], name: str) -> str:
    values = query.get(name) or [""]
    return values[0] if len(values) == 1 else ""


def oidc_redirect_registered(client_id: str, redirect_uri: str) -> bool:
    """Whether ``redirect_uri`` is registered, exactly, for the enabled OIDC client."""
    if not redirect_uri or not client_id_plausible(client_id):
        return False
    application = Application.objects.filter(client_id=client_id).first()
    if application is None:
        return False
    service = service_of(application)
    if service is None or not service.enabled or service.protocol != Service.Protocol.OIDC:
        return False
    return redirect_uri in application.redirect_uris.split()


def login_form_targets(next_url: str) -> list[str]:
    """The service URLs that a ``/login`` form with this ``next`` may end at."""
    try:
        parts = urlsplit(next_url)
    except ValueError:
        return []
    # An absolute ``next`` names one of ENT's own hosts (``_safe_next`` checked it): only the
    # path and the query say where the chain goes next.
    query = parse_qs(parts.query)
    if parts.path == reverse("cas:login"):
        service_url = _single(query, "service")
        if service_url and cas.service_for_url(service_url) is not None:
            return [service_url]
    elif parts.path == reverse("oauth2_provider:authorize"):
        redirect_uri = _single(query, "redirect_uri")
        if oidc_redirect_registered(_single(query, "client_id"), redirect_uri):
            return [redirect_uri]
    return []
