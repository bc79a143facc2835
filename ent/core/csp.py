"""The Content-Security-Policy of every page, and the one thing a view may add to it.

The policy itself is ``CONTENT_SECURITY_POLICY`` in the settings (django-csp 4.0): scripts,
styles and everything else from ENT's own origin only, no inline script, no frame around any
page. This module adds what django-csp cannot express as a fixed setting: a page whose form
leads to *another* site. Chromium applies ``form-action`` to every redirect that follows a
form's submission, so a sign-in form that ends, through ENT's own redirects, at a service (a
CAS service receiving its ticket, an OpenID Connect relying party receiving its code) is
blocked unless that service's origin is in the ``form-action`` of the page holding the form.
The services are whatever the registry holds, so the origin is computed per response:
``form_action_allow(response, url)``, read by :class:`CSPMiddleware`.

Views that need a different policy altogether (the webmail's message frame) use django-csp's
own decorators or set the header themselves; see the comment above ``CONTENT_SECURITY_POLICY``
in ``ent/settings.py``.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware as _BaseCSPMiddleware
from csp.middleware import PolicyParts
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase

R = TypeVar("R", bound=HttpResponseBase)

# The response attribute holding the extra form-action sources (a list of origins).
_FORM_ACTION_ATTR = "_ent_csp_form_action"

# An origin as a CSP source expression: nothing but a scheme, a host name or address, a port.
# A character such as ";", "," or a space would end the directive and start another one.
_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])"
_ORIGIN = re.compile(rf"https?://{_HOST}(?::[0-9]{{1,5}})?\Z")


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL, or None if it has no safe origin."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in ("http", "https") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    origin = f"{scheme}://{host}" + (f":{port}" if port is not None else "")
    return origin if _ORIGIN.match(origin) else None


def form_action_allow(response: R, *urls: str) -> R:
    """Let the forms of this page lead (through redirects) to the origins of ``urls``.

    Only for URLs that the registry vouches for (a registered CAS service, an exact OIDC
    redirect URI): the caller checks that. ENT's own origin is already allowed ('self');
    a URL without a clean origin is ignored, never copied into the header.
    """
    own = origin_of(str(settings.BASE_URL))
    sources: list[str] = getattr(response, _FORM_ACTION_ATTR, [])
    for url in urls:
        origin = origin_of(url)
        if origin is not None and origin != own and origin not in sources:
            sources.append(origin)
    setattr(response, _FORM_ACTION_ATTR, sources)
    return response


class CSPMiddleware(_BaseCSPMiddleware):
    """django-csp's middleware, plus the per-response ``form-action`` origins.

    They are kept apart from django-csp's own ``_csp_update`` so that a view decorated with
    ``csp_update`` keeps both (the decorator replaces that attribute after the view ran).
    """

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        extra = getattr(response, _FORM_ACTION_ATTR, None)
        if extra and not report_only:
            update: dict[str, Any] = dict(parts.update or {})
            current = update.get("form-action") or []
            if isinstance(current, str):
                current = [current]
            update["form-action"] = [*current, *extra]
            parts.update = update
        return parts
