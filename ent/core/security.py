"""Security middleware that Django's ``SecurityMiddleware`` does not provide.

- :class:`TrustedProxyMiddleware` drops ``X-Forwarded-Proto`` unless the request comes from a
  proxy listed in ``ENT_TRUSTED_PROXIES``. Django's ``SECURE_PROXY_SSL_HEADER`` believes the
  header from anyone; a client reaching an instance directly could otherwise claim "https"
  (and so pass ``SECURE_SSL_REDIRECT``, or be treated as secure) over plain HTTP.
- :class:`PermissionsPolicyMiddleware` adds a ``Permissions-Policy`` that switches off the
  powerful browser features no ENT page uses (camera, microphone, geolocation, payment…), so
  an injected script or a compromised third-party page in a frame cannot ask for them.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from .net import request_from_trusted_proxy

# Features no ENT page needs; "()" is the empty allow-list (denied everywhere, frames included).
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
)


class TrustedProxyMiddleware:
    """Believe ``X-Forwarded-Proto`` only from a trusted reverse proxy (must come first)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "HTTP_X_FORWARDED_PROTO" in request.META and not request_from_trusted_proxy(request):
            del request.META["HTTP_X_FORWARDED_PROTO"]
        return self.get_response(request)


class PermissionsPolicyMiddleware:
    """Add ``Permissions-Policy`` to every response that has not set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = getattr(settings, "PERMISSIONS_POLICY", PERMISSIONS_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Permissions-Policy", self.policy)
        return response
