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
