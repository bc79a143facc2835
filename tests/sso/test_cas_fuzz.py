"""Property-based: no parameter given to a CAS endpoint gives a server error."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sso.cas_helpers import SERVICE_URL, register, signed_in

pytestmark = pytest.mark.django_db

value = st.text(max_size=300) | st.sampled_from(
    [
        "",
        "\x00",
        SERVICE_URL,
        SERVICE_URL + "\x00",
        "https://app.example.org/\u0000x",
        "ST-" + "a" * 40,
        "PGT-" + "b" * 40,
        "<a>&\"'",
        "javascript:alert(1)",
        "https://[::1/",
        "https://[x/",
        "http://[",
        "https://app.example.org]/",
        "x" * 5000,
        "true",
        "JSON",
    ]
)


@pytest.fixture
def service(db: None) -> None:
    """A registered service, so that some inputs reach past the registry check."""
    register()


ENDPOINTS = {
    "/cas/login": ["service", "renew", "gateway", "method", "warn"],
    "/cas/logout": ["service", "url"],
    "/cas/validate": ["service", "ticket", "renew"],
    "/cas/serviceValidate": ["service", "ticket", "pgtUrl", "format"],
    "/cas/p3/proxyValidate": ["service", "ticket", "pgtUrl", "renew"],
    "/cas/proxy": ["pgt", "targetService", "format"],
}


@pytest.mark.parametrize("signed", [False, True], ids=["anonymous", "signed-in"])
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.sampled_from(sorted(ENDPOINTS)), values=st.lists(value, min_size=5, max_size=5))
def test_cas_endpoints_never_500(
    active_student: Any, service: None, signed: bool, path: str, values: list[str]
) -> None:
    browser = signed_in(active_student) if signed else Client()
    params: dict[str, Any] = dict(zip(ENDPOINTS[path], values, strict=False))
    response = browser.get(path, params)
    assert response.status_code < 500, (path, params)


@pytest.mark.parametrize("path", ["/cas/login", "/cas/logout"])
def test_nul_in_an_unknown_service_url(client: Client, db: None, path: str) -> None:
    """Recorded in the audit log (a JSON column, where PostgreSQL refuses NUL) without a 500."""
    response = client.get(path, {"service": "https://evil.example.com/\x00<x>"})
    assert response.status_code in (200, 403)


def test_control_characters_make_a_service_url_unknown(active_student: Any) -> None:
    register()
    browser = signed_in(active_student)
    for bad in ("\x00", "\x1f", "\x7f", " ", "\t"):
        response = browser.get("/cas/login", {"service": SERVICE_URL + bad + "x"})
        assert response.status_code == 403
    assert browser.get("/cas/login", {"service": SERVICE_URL + "x"}).status_code == 302
