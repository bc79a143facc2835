"""Request id and access log, for every request of every instance.

The id comes from the reverse proxy (``X-Request-ID``, as nginx's ``$request_id``) when the
request comes from one of ``ENT_TRUSTED_PROXIES`` and the value looks like an id; otherwise it
is generated here. A client cannot choose it (it would let one forge log lines that seem to
belong to another request). It is returned in the ``X-Request-ID`` response header, carried by
every log line written while the request is served (``ent.core.logging.RequestIdFilter``), and
ends the request with one ``ent.access`` line: method, path (codes redacted), status, duration.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .logging import redact, request_id
from .net import client_ip, is_trusted_proxy

_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")
access_logger = logging.getLogger("ent.access")


def _incoming_id(request: HttpRequest) -> str | None:
    raw = request.META.get("HTTP_X_REQUEST_ID", "")
    if not raw or not _ID.fullmatch(raw):
        return None
    try:
        remote = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return None
    return raw if is_trusted_proxy(remote) else None


class RequestIdMiddleware:
    """Give the request an id, put it on the response and the log lines, log the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = _incoming_id(request) or uuid.uuid4().hex
        request.request_id = rid  # type: ignore[attr-defined]
        token = request_id.set(rid)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = rid
            elapsed_ms = round((time.monotonic() - started) * 1000, 1)
            path = redact(request.get_full_path())
            access_logger.info(
                "%s %s %s %sms",
                request.method,
                path,
                response.status_code,
                elapsed_ms,
                extra={
                    "method": request.method,
                    "path": path,
                    "status": response.status_code,
                    "duration_ms": elapsed_ms,
                    "client_ip": client_ip(request) or "-",
                },
            )
            return response
        finally:
            request_id.reset(token)
