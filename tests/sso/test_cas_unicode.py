"""Non-ASCII URLs and case-insensitive registry patterns: a look-alike host (``unıv-perp.fr``
with a dotless ı is another domain once IDNA-encoded) never matches a registered service."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from ent.sso import cas
from ent.sso.models import CasTicket, Service, validate_pattern
from ent.sso.registry import pattern_hosts
from tests.sso.cas_helpers import SERVICE_URL, http_server, register, signed_in, ticket_from

pytestmark = pytest.mark.django_db

NS = {"cas": "http://www.yale.edu/tp/cas"}
CASELESS = r"(?i)https://univ-perp\.fr/.*"
# The dotless ı (U+0131) folds to i under Unicode IGNORECASE; a URI has no raw "é" either.
LOOK_ALIKES = ["https://unıv-perp.fr/", "https://univ-perp.fr/é"]


@pytest.mark.parametrize("url", LOOK_ALIKES)
def test_non_ascii_service_url_is_unknown(active_student: Any, url: str) -> None:
    # Written straight to the table, as an entry from before the registry refused (?i).
    register("perp", CASELESS, home_url="https://univ-perp.fr/")
    browser = signed_in(active_student)
    assert browser.get("/cas/login", {"service": url}).status_code == 403
    assert not CasTicket.objects.exists()
    # ASCII case-insensitivity still works for the entry: the same domain.
    assert browser.get("/cas/login", {"service": "https://UNIV-PERP.fr/"}).status_code == 302


def test_registry_patterns_match_ascii_only() -> None:
    service = Service(cas_service_pattern=CASELESS, cas_proxy_callback_pattern=CASELESS)
    assert service.matches_cas_service("https://Univ-Perp.fr/x")
    for url in LOOK_ALIKES[:1]:
        assert not service.matches_cas_service(url)
        assert not service.allows_proxy_callback(url)
    view = cas._ServiceView(
        id=1,
        slug="s",
        enabled=True,
        protocol="cas",
        attributes=[],
        cas_proxy_callback_pattern=CASELESS,
    )
    assert not view.allows_proxy_callback(LOOK_ALIKES[0])
    # \w means ASCII letters, digits and _ only.
    assert not Service(cas_service_pattern=r"https://\w+\.fr/").matches_cas_service("https://é.fr/")


def test_non_ascii_pgt_url_is_refused(active_student: Any, settings: Any) -> None:
    settings.CAS_ALLOW_HTTP_LOOPBACK_CALLBACK = True
    with http_server() as callback:
        register(cas_proxy_callback_pattern=re.escape(callback.url) + "/.*")
        ticket = ticket_from(signed_in(active_student))
        response = Client().get(
            "/cas/serviceValidate",
            {"service": SERVICE_URL, "ticket": ticket, "pgtUrl": callback.url + "/é"},
        )
        failure = ET.fromstring(response.content).find("cas:authenticationFailure", NS)  # noqa: S314
        assert failure is not None and failure.attrib["code"] == "INVALID_PROXY_CALLBACK"
        # Refused as an address, before any PGT is made or any connection tried.
        assert "not an HTTPS address registered" in (failure.text or "")
        assert callback.requests == []
    assert not CasTicket.objects.filter(kind=CasTicket.Kind.PROXY_GRANTING).exists()


def test_non_ascii_target_service_is_unknown(active_student: Any, settings: Any) -> None:
    settings.CAS_ALLOW_HTTP_LOOPBACK_CALLBACK = True
    register("perp", CASELESS, home_url="https://univ-perp.fr/")
    with http_server() as callback:
        register(cas_proxy_callback_pattern=re.escape(callback.url) + "/.*")
        ticket = ticket_from(signed_in(active_student))
        Client().get(
            "/cas/serviceValidate",
            {"service": SERVICE_URL, "ticket": ticket, "pgtUrl": callback.url + "/cb"},
        )
        pgt = callback.requests[0][2]["pgtId"][0]
    response = Client().get("/cas/proxy", {"pgt": pgt, "targetService": LOOK_ALIKES[0]})
    failure = ET.fromstring(response.content).find("cas:proxyFailure", NS)  # noqa: S314
    assert failure is not None and failure.attrib["code"] == "UNAUTHORIZED_SERVICE"


@pytest.mark.parametrize(
    "pattern",
    [
        CASELESS,
        r"(?i:https://univ-perp\.fr)/.*",
        r"https://univ-perp\.fr/(?i:moodle)/.*",
        r"(?:https://a\.fr|(?i:https://b\.fr))/.*",
        r"(?s)(?i)https://univ-perp\.fr/.*",
    ],
)
def test_registry_refuses_case_insensitive_patterns(pattern: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        pattern_hosts(pattern)
    assert "ignorer la casse" in excinfo.value.messages[0]


def test_registry_accepts_the_same_pattern_without_ignorecase() -> None:
    assert pattern_hosts(r"https://univ-perp\.fr/(?-i:x).*") == ["https://univ-perp.fr"]


def test_unicode_flag_is_an_invalid_pattern() -> None:
    with pytest.raises(ValidationError):
        validate_pattern(r"(?u)https://univ-perp\.fr/.*")
    assert not Service(cas_service_pattern=r"(?u)https://a\.fr/").matches_cas_service(
        "https://a.fr/"
    )
