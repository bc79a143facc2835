"""Error pages in the ENT's look, in French and English.

A database or Redis outage (a PostgreSQL restart, a failover, a network cut) surfaces as an
exception somewhere in the request: in a view, in the session middleware, while saving the
session. Django turns every uncaught exception into ``handler500``; ``server_error`` looks at
the exception being handled and answers such an outage with the "Service momentanément
indisponible" page (503, ``Retry-After``) instead of a generic error. That page is rendered
without the request's context (no session, no user, no database), since those may be what
failed. The service recovers by itself: Django checks a kept connection before reusing it
(``CONN_HEALTH_CHECKS``) and redis-py reconnects, so the next request works once the server
is back.
"""

from __future__ import annotations

import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

try:  # redis is a dependency, but only an ENT_CACHE_URL deployment ever talks to it
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    _REDIS_DOWN: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError)
except ImportError:  # pragma: no cover
    _REDIS_DOWN = ()

# Exceptions that mean "a backing service is unreachable", not "a bug".
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, *_REDIS_DOWN)

# Seconds a client (or the load balancer) is asked to wait before trying again.
RETRY_AFTER_SECONDS = 10


def is_outage(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) says the database or Redis is unreachable."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, OUTAGE_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def service_unavailable(request: HttpRequest | None = None) -> HttpResponse:
    """503 "Service momentanément indisponible": no session, no user, no database needed."""
    body = render_to_string(
        "errors/503.html",
        {
            "university_name": settings.UNIVERSITY_NAME,
            "university_short_name": settings.UNIVERSITY_SHORT_NAME,
            "retry_after": RETRY_AFTER_SECONDS,
        },
    )
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """400."""
    return render(request, "errors/400.html", status=400)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """403 (including a failed CSRF check, see CSRF_FAILURE_VIEW)."""
    return render(request, "errors/403.html", status=403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent without its token, or after the session changed: ask to reload."""
    return render(request, "errors/403_csrf.html", status=403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404."""
    return render(request, "errors/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """500, or 503 when the exception being handled is a database or Redis outage.

    Django calls this inside its ``except`` block, so ``sys.exc_info()`` is the exception.
    """
    if is_outage(sys.exc_info()[1]):
        return service_unavailable(request)
    try:
        return render(request, "errors/500.html", status=500)
    except Exception as exc:  # the page itself needs the session: it may be what failed
        if is_outage(exc):
            return service_unavailable(request)
        raise
