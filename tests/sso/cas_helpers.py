"""Helpers of the CAS tests: a registered service, a signed-in browser, small HTTP servers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.test import Client

from ent.sso.models import Service
from tests.conftest import GOOD_PASSWORD

SERVICE_URL = "https://app.example.org/login/"
OTHER_URL = "https://other.example.org/"
BACKEND_URL = "https://backend.example.org/api/"


def register(
    slug: str = "app",
    pattern: str = r"https://app\.example\.org/.*",
    attributes: list[str] | None = None,
    **extra: Any,
) -> Service:
    """A CAS service in the registry."""
    values: dict[str, Any] = {
        "name": slug.capitalize(),
        "slug": slug,
        "home_url": "https://app.example.org/",
        "protocol": Service.Protocol.CAS,
        "cas_service_pattern": pattern,
        "attributes": ["uid", "mail", "displayName"] if attributes is None else attributes,
    }
    values.update(extra)
    return Service.objects.create(**values)


def signed_in(student: Any) -> Client:
    """A browser that signed in at /login with the student's password."""
    client = Client()
    response = client.post(
        "/login", {"identifier": student.student_number, "password": GOOD_PASSWORD}
    )
    assert response.status_code == 302, response.content
    return client


def ticket_from(client: Client, service_url: str = SERVICE_URL, **params: str) -> str:
    """Follow /cas/login for ``service_url``: the ticket it appends to the redirect."""
    response = client.get("/cas/login", {"service": service_url, **params})
    assert response.status_code == 302, response.content
    location = response["Location"]
    assert location.startswith(service_url)
    return parse_qs(urlsplit(location).query)["ticket"][0]


@dataclass
class Recorder:
    """What a test HTTP server received: (method, path, query, form body)."""

    requests: list[tuple[str, str, dict[str, list[str]], dict[str, list[str]]]] = field(
        default_factory=list
    )
    status: int = 200
    delay: float = 0.0
    event: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def wait(self, timeout: float = 5.0) -> None:
        """Block until a request arrived."""
        assert self.event.wait(timeout), "the server received nothing"


@contextmanager
def http_server(status: int = 200, delay: float = 0.0) -> Iterator[Recorder]:
    """A real HTTP server on the loopback, in a thread, that records every request."""
    recorder = Recorder(status=status, delay=delay)
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            parts = urlsplit(self.path)
            recorder.requests.append(
                (self.command, parts.path, parse_qs(parts.query), parse_qs(body))
            )
            recorder.event.set()
            if recorder.delay:
                stop.wait(recorder.delay)
            self.send_response(recorder.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = _handle
        do_POST = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
