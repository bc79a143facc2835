"""URLs that ``urllib.parse.urlsplit`` refuses (an unclosed IPv6 bracket): an answer, never a
500, on every endpoint that reads one."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from django.test import Client

from ent.sso.models import CasTicket
from tests.sso.cas_helpers import SERVICE_URL, http_server, register, signed_in, ticket_from

pytestmark = pytest.mark.django_db

NS = {"cas": "http://www.yale.edu/tp/cas"}
BRACKETS = ["https://[::1/", "https://[x/", "http://[", "https://app.example.org]/"]


@pytest.mark.parametrize("bad", BRACKETS)
def test_cas_login_with_a_bracket_service(active_student: Any, bad: str) -> None:
    register(pattern=r"https://.*")
    for browser in (Client(), signed_in(active_student)):
        response = browser.get("/cas/login", {"service": bad})
        assert response.status_code == 403
        assert "Service inconnu" in response.content.decode()


@pytest.mark.parametrize("bad", BRACKETS)
def test_cas_logout_with_a_bracket_service(active_student: Any, bad: str) -> None:
    register(pattern=r"https://.*")
    browser = signed_in(active_student)
    response = browser.get("/cas/logout", {"service": bad})
    assert response.status_code == 200  # the logged-out page, no redirect
    assert "_auth_user_id" not in browser.session


@pytest.mark.parametrize("bad", BRACKETS)
def test_service_validate_with_a_bracket_pgt_url(active_student: Any, bad: str) -> None:
    register(cas_proxy_callback_pattern=r"https://.*")
    ticket = ticket_from(signed_in(active_student))
    response = Client().get(
        "/cas/serviceValidate", {"service": SERVICE_URL, "ticket": ticket, "pgtUrl": bad}
    )
    assert response.status_code == 200
    failure = ET.fromstring(response.content).find("cas:authenticationFailure", NS)  # noqa: S314
    assert failure is not None and failure.attrib["code"] == "INVALID_PROXY_CALLBACK"
    assert not CasTicket.objects.filter(kind=CasTicket.Kind.PROXY_GRANTING).exists()


def test_proxy_with_a_bracket_target_service(active_student: Any, settings: Any) -> None:
    settings.CAS_ALLOW_HTTP_LOOPBACK_CALLBACK = True
    with http_server() as callback:
        register(cas_proxy_callback_pattern=re.escape(callback.url) + "/.*")
        register("any", r"https://[^a].*")  # not SERVICE_URL: its ticket is the proxy's
        ticket = ticket_from(signed_in(active_student))
        response = Client().get(
            "/cas/serviceValidate",
            {"service": SERVICE_URL, "ticket": ticket, "pgtUrl": callback.url + "/cb"},
        )
        assert response.status_code == 200
        pgt = callback.requests[0][2]["pgtId"][0]
    for bad in BRACKETS:
        response = Client().get("/cas/proxy", {"pgt": pgt, "targetService": bad})
        assert response.status_code == 200
        failure = ET.fromstring(response.content).find("cas:proxyFailure", NS)  # noqa: S314
        assert failure is not None and failure.attrib["code"] == "UNAUTHORIZED_SERVICE"
