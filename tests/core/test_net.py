"""The client address behind a reverse proxy."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory

from ent.core.net import client_ip


@pytest.fixture
def rf() -> RequestFactory:
    return RequestFactory()


def test_direct_client(rf: RequestFactory, settings: Any) -> None:
    settings.TRUSTED_PROXIES = []
    request = rf.get("/", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip(request) == "198.51.100.7"  # the header is not believed from a client


def test_behind_trusted_proxy(rf: RequestFactory, settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")
    # The client may have sent "6.6.6.6" itself: the proxy appended the real address last.
    assert client_ip(request) == "198.51.100.7"


def test_chain_of_trusted_proxies(rf: RequestFactory, settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/24", "2001:db8::/32"]
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7, 2001:db8::1")
    assert client_ip(request) == "198.51.100.7"


def test_malformed_header(rf: RequestFactory, settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert client_ip(request) == "10.0.0.2"
    assert client_ip(rf.get("/", REMOTE_ADDR="garbage")) is None


def test_read_once_per_request_while_its_inputs_stay(
    rf: RequestFactory, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ent.core import net

    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7")
    parsed: list[str] = []
    parse = net._parse
    monkeypatch.setattr(net, "_parse", lambda raw: parsed.append(raw) or parse(raw))
    assert client_ip(request) == client_ip(request) == "198.51.100.7"
    assert len(parsed) == 2  # REMOTE_ADDR and the one hop, once
    # Another proxy list, or other headers, are read again.
    settings.TRUSTED_PROXIES = []
    assert client_ip(request) == "10.0.0.2"
    request.META["REMOTE_ADDR"] = "203.0.113.9"
    assert client_ip(request) == "203.0.113.9"
