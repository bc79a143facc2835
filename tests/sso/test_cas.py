"""The CAS 3.0 server, validated by a real client library (python-cas) over HTTP.

Every test runs against pytest-django's live server: python-cas validates tickets with real
HTTP requests, as a university service would. Browsers are Django test clients that signed in
at /login (same database).
"""

from __future__ import annotations

import json
import re
import threading
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cas import CASClient
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ent.core import clock
from ent.core.models import AuditEvent
from ent.directory.models import Student
from ent.sso.models import CasTicket, Service
from tests.conftest import GOOD_PASSWORD, page_text
from tests.sso.cas_helpers import (
    BACKEND_URL,
    OTHER_URL,
    SERVICE_URL,
    http_server,
    register,
    signed_in,
    ticket_from,
)

pytestmark = pytest.mark.django_db(transaction=True)

NS = {"cas": "http://www.yale.edu/tp/cas"}


@pytest.fixture
def server(live_server: Any) -> str:
    """The CAS server URL as services are configured with it."""
    return f"{live_server.url}/cas/"


def client_v3(server: str, service_url: str = SERVICE_URL, **kwargs: Any) -> Any:
    """python-cas, CAS 3.0 (validates at /cas/p3/serviceValidate)."""
    return CASClient(version=3, server_url=server, service_url=service_url, **kwargs)


def raw(server: str, endpoint: str, **params: str) -> ET.Element:
    """Call a validation endpoint and parse its XML answer."""
    response = requests.get(server + endpoint, params=params, timeout=10)
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    return ET.fromstring(response.content)  # noqa: S314 - our own server's answer


def failure_code(root: ET.Element) -> str:
    failure = root.find("cas:authenticationFailure", NS)
    assert failure is not None, ET.tostring(root)
    return failure.attrib["code"]


# --- Login and validation -------------------------------------------------------------------


def test_login_then_validation_with_python_cas(server: str, active_student: Any) -> None:
    register()
    browser = signed_in(active_student)
    ticket = ticket_from(browser)
    assert re.fullmatch(r"ST-[A-Za-z0-9-]{32,}", ticket)
    user, attributes, pgtiou = client_v3(server).verify_ticket(ticket)
    assert user == active_student.student_number
    assert attributes["uid"] == active_student.student_number
    assert attributes["mail"] == active_student.institutional_email
    assert attributes["displayName"] == "Sophie Germain"
    assert attributes["isFromNewLogin"] == "false"  # single sign-on, not a password entry
    assert pgtiou is None
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.CAS_TICKET_ISSUED)
    assert event.student == active_student and event.data["service"] == "app"


def test_attributes_are_only_those_the_registry_allows(server: str, active_student: Any) -> None:
    register(attributes=["givenName", "eduPersonAffiliation", "eduPersonPrincipalName"])
    ticket = ticket_from(signed_in(active_student))
    _, attributes, _ = client_v3(server).verify_ticket(ticket)
    personal = set(attributes) - {
        "authenticationDate",
        "longTermAuthenticationRequestTokenUsed",
        "isFromNewLogin",
    }
    assert personal == {"givenName", "eduPersonAffiliation", "eduPersonPrincipalName"}
    assert attributes["givenName"] == "Sophie"
    assert attributes["eduPersonAffiliation"] == "student"
    assert attributes["eduPersonPrincipalName"] == f"{active_student.student_number}@univ-perp.fr"


def test_every_attribute_can_be_released(server: str, active_student: Any) -> None:
    names = [
        "uid",
        "supannEtuId",
        "mail",
        "displayName",
        "givenName",
        "sn",
        "eduPersonAffiliation",
        "eduPersonPrincipalName",
    ]
    register(attributes=names)
    _, attributes, _ = client_v3(server).verify_ticket(ticket_from(signed_in(active_student)))
    assert set(names) <= set(attributes)
    assert attributes["sn"] == "Germain" and attributes["supannEtuId"] == attributes["uid"]


def test_cas2_service_validate_with_python_cas(server: str, active_student: Any) -> None:
    register()
    ticket = ticket_from(signed_in(active_student))
    client = CASClient(version=2, server_url=server, service_url=SERVICE_URL)
    user, attributes, _ = client.verify_ticket(ticket)
    assert user == active_student.student_number and attributes["mail"]


def test_cas1_validate(server: str, active_student: Any) -> None:
    register()
    browser = signed_in(active_student)
    client = CASClient(version=1, server_url=server, service_url=SERVICE_URL)
    ticket = ticket_from(browser)
    assert client.verify_ticket(ticket)[0] == active_student.student_number
    assert client.verify_ticket(ticket)[0] is None  # used once
    response = requests.get(
        server + "validate", params={"ticket": "ST-nope", "service": SERVICE_URL}, timeout=10
    )
    assert response.text == "no\n\n"


def test_json_format(server: str, active_student: Any) -> None:
    register()
    ticket = ticket_from(signed_in(active_student))
    response = requests.get(
        server + "p3/serviceValidate",
        params={"ticket": ticket, "service": SERVICE_URL, "format": "JSON"},
        timeout=10,
    )
    assert response.headers["Content-Type"].startswith("application/json")
    success = response.json()["serviceResponse"]["authenticationSuccess"]
    assert success["user"] == active_student.student_number
    assert success["attributes"]["displayName"] == ["Sophie Germain"]
    again = requests.get(
        server + "serviceValidate",
        params={"ticket": ticket, "service": SERVICE_URL, "format": "json"},
        timeout=10,
    ).json()
    failure = again["serviceResponse"]["authenticationFailure"]
    assert failure["code"] == "INVALID_TICKET" and ticket in failure["description"]


def test_unsupported_format_is_an_invalid_request(server: str, active_student: Any) -> None:
    register()
    ticket = ticket_from(signed_in(active_student))
    root = raw(server, "serviceValidate", ticket=ticket, service=SERVICE_URL, format="YAML")
    assert failure_code(root) == "INVALID_REQUEST"


# --- Negative cases of the specification ---------------------------------------------------------


def test_missing_parameters_are_an_invalid_request(server: str, db: None) -> None:
    assert failure_code(raw(server, "serviceValidate", service=SERVICE_URL)) == "INVALID_REQUEST"
    assert failure_code(raw(server, "p3/serviceValidate", ticket="ST-x")) == "INVALID_REQUEST"
    assert failure_code(raw(server, "proxyValidate")) == "INVALID_REQUEST"


def test_ticket_reuse_fails(server: str, active_student: Any) -> None:
    register()
    ticket = ticket_from(signed_in(active_student))
    client = client_v3(server)
    assert client.verify_ticket(ticket)[0] == active_student.student_number
    assert client.verify_ticket(ticket) == (None, {}, None)
    assert failure_code(raw(server, "p3/serviceValidate", ticket=ticket, service=SERVICE_URL)) == (
        "INVALID_TICKET"
    )


def test_ticket_for_another_service_is_refused_and_burnt(server: str, active_student: Any) -> None:
    register()
    register("other", r"https://other\.example\.org/.*")
    ticket = ticket_from(signed_in(active_student))
    root = raw(server, "p3/serviceValidate", ticket=ticket, service=OTHER_URL)
    assert failure_code(root) == "INVALID_SERVICE"
    # Spec 2.5.3: the ticket is invalidated, even for the service it was issued for.
    assert client_v3(server).verify_ticket(ticket)[0] is None
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.CAS_VALIDATION_FAILED).exists()


def test_service_must_match_exactly(server: str, active_student: Any) -> None:
    register()
    ticket = ticket_from(signed_in(active_student))
    assert client_v3(server, SERVICE_URL + "?x=1").verify_ticket(ticket)[0] is None


def test_expired_ticket(server: str, active_student: Any, settings: Any) -> None:
    register()
    assert settings.CAS_TICKET_SECONDS == 60
    ticket = ticket_from(signed_in(active_student))
    clock.advance(timedelta(seconds=61))
    root = raw(server, "p3/serviceValidate", ticket=ticket, service=SERVICE_URL)
    assert failure_code(root) == "INVALID_TICKET"
    assert "expired" in (root.find("cas:authenticationFailure", NS).text or "")  # type: ignore[union-attr]


def test_ticket_within_its_lifetime(server: str, active_student: Any) -> None:
    register()
    ticket = ticket_from(signed_in(active_student))
    clock.advance(timedelta(seconds=59))
    assert client_v3(server).verify_ticket(ticket)[0] == active_student.student_number


def test_unknown_ticket_and_garbage(server: str, db: None) -> None:
    register()
    for ticket in ("ST-" + "a" * 40, "<x/>&", "PGT-" + "b" * 40, "ST-" + "c" * 400):
        root = raw(server, "serviceValidate", ticket=ticket, service=SERVICE_URL)
        assert failure_code(root) == "INVALID_TICKET"


def test_tickets_are_stored_hashed(server: str, active_student: Any) -> None:
    register()
    ticket = ticket_from(signed_in(active_student))
    row = CasTicket.objects.get()
    assert ticket not in (row.ticket_hash, row.service_url, row.session_key)
    assert len(row.ticket_hash) == 64


def test_disabled_service_or_account_after_issue(server: str, active_student: Any) -> None:
    service = register()
    browser = signed_in(active_student)
    ticket = ticket_from(browser)
    Service.objects.filter(pk=service.pk).update(enabled=False)
    assert client_v3(server).verify_ticket(ticket)[0] is None
    Service.objects.filter(pk=service.pk).update(enabled=True)
    ticket = ticket_from(browser)
    active_student.account.state = "locked"
    active_student.account.save()
    assert client_v3(server).verify_ticket(ticket)[0] is None


def test_concurrent_double_validation_yields_one_success(server: str, active_student: Any) -> None:
    register()
    browser = signed_in(active_student)
    for _ in range(3):
        ticket = ticket_from(browser)
        barrier = threading.Barrier(4)
        results: list[str | None] = []

        def validate(t: str, barrier: threading.Barrier, results: list[str | None]) -> None:
            barrier.wait()
            results.append(client_v3(server).verify_ticket(t)[0])

        threads = [
            threading.Thread(target=validate, args=(ticket, barrier, results)) for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert len(results) == 4
        assert results.count(active_student.student_number) == 1 and results.count(None) == 3


# --- XML injection ------------------------------------------------------------------------------


def test_xml_injection_through_names(server: str, active_student: Any) -> None:
    register(attributes=["displayName", "givenName", "sn"])
    first, last = "<a>&\"'", "O'Hara</cas:user><cas:user>admin & \x01co"
    Student.objects.filter(pk=active_student.pk).update(first_name=first, last_name=last)
    browser = signed_in(active_student)
    ticket = ticket_from(browser)
    root = raw(server, "p3/serviceValidate", ticket=ticket, service=SERVICE_URL)
    success = root.find("cas:authenticationSuccess", NS)
    assert success is not None
    assert [u.text for u in success.iter("{http://www.yale.edu/tp/cas}user")] == [
        active_student.student_number
    ]
    attributes = success.find("cas:attributes", NS)
    assert attributes is not None
    assert attributes.findtext("cas:givenName", namespaces=NS) == first
    assert attributes.findtext("cas:sn", namespaces=NS) == last.replace("\x01", "")
    assert attributes.findtext("cas:displayName", namespaces=NS) == (
        f"{first} {last}".replace("\x01", "")
    )
    # The JSON form round-trips too, and python-cas reads the same values.
    ticket = ticket_from(browser)
    response = requests.get(
        server + "serviceValidate",
        params={"ticket": ticket, "service": SERVICE_URL, "format": "JSON"},
        timeout=10,
    )
    success_json = json.loads(response.text)["serviceResponse"]["authenticationSuccess"]
    assert success_json["attributes"]["givenName"] == [first]
    _, attrs, _ = client_v3(server).verify_ticket(ticket_from(browser))
    assert attrs["givenName"] == first


# --- /cas/login: services, renew, gateway, method=POST ---------------------------------------


def test_login_without_session_goes_through_the_login_page(active_student: Any) -> None:
    register()
    browser = Client()
    response = browser.get("/cas/login", {"service": SERVICE_URL})
    assert response.status_code == 302
    login_url = response["Location"]
    assert login_url.startswith("/login?next=")
    next_url = parse_qs(urlsplit(login_url).query)["next"][0]
    response = browser.post(
        "/login",
        {"identifier": active_student.student_number, "password": GOOD_PASSWORD, "next": next_url},
    )
    assert response["Location"] == next_url
    response = browser.get(next_url)
    assert response.status_code == 302 and response["Location"].startswith(
        SERVICE_URL + "?ticket=ST-"
    )
    assert CasTicket.objects.get().from_new_login  # issued from the password just typed


def test_login_throttling_applies(active_student: Any) -> None:
    register()
    browser = Client()
    next_url = "/cas/login?service=" + SERVICE_URL
    for _ in range(5):
        browser.post(
            "/login",
            {
                "identifier": active_student.student_number,
                "password": "Wrong.2026",
                "next": next_url,
            },
        )
    response = browser.post(
        "/login",
        {"identifier": active_student.student_number, "password": GOOD_PASSWORD, "next": next_url},
    )
    assert response.status_code == 200 and "Trop d'essais" in page_text(response)
    assert not CasTicket.objects.exists()


def test_service_url_keeps_its_query(server: str, active_student: Any) -> None:
    register()
    url = SERVICE_URL + "?course=42&lang=fr"
    ticket = ticket_from(signed_in(active_student), url)
    assert client_v3(server, url).verify_ticket(ticket)[0] == active_student.student_number


def test_unknown_service_gets_a_page_and_no_ticket(active_student: Any, caplog: Any) -> None:
    register()
    for browser in (Client(), signed_in(active_student)):
        response = browser.get("/cas/login", {"service": "https://evil.example.com/"})
        assert response.status_code == 403
        assert "Service inconnu" in page_text(response)
        assert "Location" not in response
    assert not CasTicket.objects.exists()
    # Only the signed-in student's attempt is audited: anonymous ones could flood the table
    # and are a log line.
    (event,) = AuditEvent.objects.filter(kind=AuditEvent.Kind.CAS_SERVICE_UNKNOWN)
    assert event.student == active_student
    assert event.data["service_url"] == "https://evil.example.com/"
    assert any(
        r.levelname == "WARNING" and "https://evil.example.com/" in r.getMessage()
        for r in caplog.records
    )


def test_anonymous_unknown_services_are_not_audited(db: None) -> None:
    for n in range(5):
        response = Client().get("/cas/login", {"service": f"https://evil{n}.example.com/"})
        assert response.status_code == 403
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    "attempt",
    [
        "https://app.example.org.evil.com/",
        "https://app.example.org@evil.com/",
        "https://evil.com/?https://app.example.org/",
        "https://evil.com/https://app.example.org/",
        "http://app.example.org/login/",
        "javascript:alert(1)//https://app.example.org/",
        "//evil.com/",
        "https://app.example.org/\nLocation: https://evil.com/",
        "HTTPS://APP.EXAMPLE.ORG.evil.com/",
    ],
)
def test_open_redirect_attempts_on_service(attempt: str, active_student: Any) -> None:
    register()
    browser = signed_in(active_student)
    for params in ({}, {"gateway": "true"}, {"method": "POST"}):
        response = browser.get("/cas/login", {"service": attempt, **params})
        assert response.status_code == 403, (attempt, params)
        assert "Location" not in response
        response = Client().get("/cas/login", {"service": attempt, **params})
        assert response.status_code == 403 and "Location" not in response
    assert not CasTicket.objects.exists()


def test_disabled_service_is_unknown(active_student: Any) -> None:
    register(enabled=False)
    response = signed_in(active_student).get("/cas/login", {"service": SERVICE_URL})
    assert response.status_code == 403


def test_no_service_parameter(active_student: Any) -> None:
    assert Client().get("/cas/login")["Location"].startswith("/login?next=")
    assert signed_in(active_student).get("/cas/login")["Location"] == "/"


def test_renew_asks_the_password_again(server: str, active_student: Any) -> None:
    register()
    browser = signed_in(active_student)
    sso_ticket = ticket_from(browser)
    # An SSO ticket does not satisfy renew at validation.
    root = raw(server, "p3/serviceValidate", ticket=sso_ticket, service=SERVICE_URL, renew="true")
    assert failure_code(root) == "INVALID_TICKET"

    response = browser.get("/cas/login", {"service": SERVICE_URL, "renew": "true"})
    assert response.status_code == 302
    login_url = response["Location"]
    query = parse_qs(urlsplit(login_url).query)
    assert urlsplit(login_url).path == "/login" and query["renew"] == ["1"]
    page = page_text(browser.get(login_url))
    assert "saisissiez à nouveau votre mot de passe" in page
    response = browser.post(
        "/login",
        {
            "identifier": active_student.student_number,
            "password": GOOD_PASSWORD,
            "next": query["next"][0],
            "renew": "1",
        },
    )
    response = browser.get(response["Location"])
    ticket = parse_qs(urlsplit(response["Location"]).query)["ticket"][0]
    user, attributes, _ = client_v3(server).verify_ticket(ticket)  # renew is a login option
    assert user == active_student.student_number and attributes["isFromNewLogin"] == "true"
    # Once used, the fresh password entry does not count for the next renew request.
    again = browser.get("/cas/login", {"service": SERVICE_URL, "renew": "true"})
    assert again["Location"].startswith("/login?")


def test_renewed_ticket_passes_renew_validation(server: str, active_student: Any) -> None:
    register()
    browser = Client()
    next_url = browser.get("/cas/login", {"service": SERVICE_URL, "renew": "true"})["Location"]
    query = parse_qs(urlsplit(next_url).query)
    response = browser.post(
        "/login",
        {
            "identifier": active_student.student_number,
            "password": GOOD_PASSWORD,
            "next": query["next"][0],
            "renew": "1",
        },
    )
    location = browser.get(response["Location"])["Location"]
    ticket = parse_qs(urlsplit(location).query)["ticket"][0]
    root = raw(server, "p3/serviceValidate", ticket=ticket, service=SERVICE_URL, renew="true")
    assert root.find("cas:authenticationSuccess", NS) is not None


def test_gateway(active_student: Any) -> None:
    register()
    response = Client().get("/cas/login", {"service": SERVICE_URL, "gateway": "true"})
    assert response.status_code == 302 and response["Location"] == SERVICE_URL
    ticket = ticket_from(signed_in(active_student), gateway="true")
    assert ticket.startswith("ST-")


def test_method_post(server: str, active_student: Any) -> None:
    register()
    response = signed_in(active_student).get(
        "/cas/login", {"service": SERVICE_URL, "method": "POST"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f'action="{SERVICE_URL}"' in html and 'method="post"' in html
    ticket = re.search(r'name="ticket" value="(ST-[A-Za-z0-9-]+)"', html)
    assert ticket is not None
    assert "cas_post.js" in html and "<script>" not in html  # no inline script
    assert client_v3(server).verify_ticket(ticket.group(1))[0] == active_student.student_number
    bad = signed_in(active_student).get("/cas/login", {"service": SERVICE_URL, "method": "HEADER"})
    assert bad.status_code == 400


# --- Proxy -----------------------------------------------------------------------------------


@pytest.fixture
def loopback_callbacks(settings: Any) -> None:
    settings.CAS_ALLOW_HTTP_LOOPBACK_CALLBACK = True


def test_proxy_flow_with_python_cas(
    server: str, active_student: Any, loopback_callbacks: None
) -> None:
    with http_server() as callback:
        register(cas_proxy_callback_pattern=re.escape(callback.url) + r"/pgt(\?.*)?")
        register("backend", r"https://backend\.example\.org/.*", attributes=["uid"])
        pgt_url = callback.url + "/pgt"
        ticket = ticket_from(signed_in(active_student))
        user, _, pgtiou = client_v3(server, proxy_callback=pgt_url).verify_ticket(ticket)
        assert user == active_student.student_number
        assert pgtiou and pgtiou.startswith("PGTIOU-")
        method, path, query, _ = callback.requests[0]
        assert (method, path) == ("GET", "/pgt") and query["pgtIou"] == [pgtiou]
        pgt = query["pgtId"][0]
        assert re.fullmatch(r"PGT-[A-Za-z0-9]{40}", pgt)

    backend = client_v3(server, BACKEND_URL)
    proxy_ticket = backend.get_proxy_ticket(pgt)
    assert proxy_ticket.startswith("PT-")
    backend.url_suffix = "p3/proxyValidate"
    user, attributes, _ = backend.verify_ticket(proxy_ticket)
    assert user == active_student.student_number
    assert "mail" not in attributes  # the backend's own registry entry decides
    # The proxy chain is given, and a PT is single use.
    second = backend.get_proxy_ticket(pgt)  # a PGT serves many times
    root = raw(server, "proxyValidate", ticket=second, service=BACKEND_URL)
    proxies = [p.text for p in root.iter("{http://www.yale.edu/tp/cas}proxy")]
    assert proxies == [pgt_url]
    assert backend.verify_ticket(second)[0] is None
    # /serviceValidate and /validate refuse proxy tickets.
    third = backend.get_proxy_ticket(pgt)
    assert failure_code(raw(server, "serviceValidate", ticket=third, service=BACKEND_URL)) == (
        "INVALID_TICKET_SPEC"
    )
    fourth = backend.get_proxy_ticket(pgt)
    assert CASClient(version=1, server_url=server, service_url=BACKEND_URL).verify_ticket(
        fourth
    ) == (None, None, None)


def test_proxy_failures(server: str, active_student: Any, loopback_callbacks: None) -> None:
    register()

    def proxy(**params: str) -> ET.Element:
        response = requests.get(server + "proxy", params=params, timeout=10)
        return ET.fromstring(response.content)  # noqa: S314 - our own server's answer

    def code(root: ET.Element) -> str:
        failure = root.find("cas:proxyFailure", NS)
        assert failure is not None
        return failure.attrib["code"]

    assert code(proxy(pgt="PGT-x")) == "INVALID_REQUEST"
    assert code(proxy(pgt="PGT-" + "a" * 40, targetService=SERVICE_URL)) == "INVALID_TICKET"
    assert code(proxy(pgt="ST-" + "a" * 40, targetService=SERVICE_URL)) == "INVALID_TICKET"
    with http_server() as callback:
        Service.objects.filter(slug="app").update(
            cas_proxy_callback_pattern=re.escape(callback.url) + "/.*"
        )
        ticket = ticket_from(signed_in(active_student))
        client_v3(server, proxy_callback=callback.url + "/cb").verify_ticket(ticket)
        pgt = callback.requests[0][2]["pgtId"][0]
    assert code(proxy(pgt=pgt, targetService="https://unknown.example.com/")) == (
        "UNAUTHORIZED_SERVICE"
    )
    json_answer = requests.get(
        server + "proxy",
        params={"pgt": pgt, "targetService": SERVICE_URL, "format": "JSON"},
        timeout=10,
    ).json()
    assert json_answer["serviceResponse"]["proxySuccess"]["proxyTicket"].startswith("PT-")


def test_proxy_callback_must_be_registered_and_https(
    server: str, active_student: Any, settings: Any
) -> None:
    browser = signed_in(active_student)
    with http_server() as callback:
        # A service with no callback pattern may not proxy at all.
        register()
        root = raw(
            server,
            "serviceValidate",
            ticket=ticket_from(browser),
            service=SERVICE_URL,
            pgtUrl=callback.url + "/cb",
        )
        assert failure_code(root) == "UNAUTHORIZED_SERVICE_PROXY"
        Service.objects.filter(slug="app").update(
            cas_proxy_callback_pattern=re.escape(callback.url) + r"/cb"
        )
        # Plain HTTP is refused unless the loopback setting allows it (tests only).
        root = raw(
            server,
            "serviceValidate",
            ticket=ticket_from(browser),
            service=SERVICE_URL,
            pgtUrl=callback.url + "/cb",
        )
        assert failure_code(root) == "INVALID_PROXY_CALLBACK"
        settings.CAS_ALLOW_HTTP_LOOPBACK_CALLBACK = True
        # A URL the registry does not allow.
        root = raw(
            server,
            "serviceValidate",
            ticket=ticket_from(browser),
            service=SERVICE_URL,
            pgtUrl=callback.url + "/other",
        )
        assert failure_code(root) == "INVALID_PROXY_CALLBACK"
        assert callback.requests == []  # nothing was sent to unregistered callbacks
    with http_server(status=404) as refusing:
        Service.objects.filter(slug="app").update(
            cas_proxy_callback_pattern=re.escape(refusing.url) + r"/cb"
        )
        root = raw(
            server,
            "serviceValidate",
            ticket=ticket_from(browser),
            service=SERVICE_URL,
            pgtUrl=refusing.url + "/cb",
        )
        assert failure_code(root) == "INVALID_PROXY_CALLBACK"
        assert len(refusing.requests) == 1
    assert not CasTicket.objects.filter(kind=CasTicket.Kind.PROXY_GRANTING).exists()


# --- Cost -------------------------------------------------------------------------------------


def test_service_validate_costs_two_queries(active_student: Any) -> None:
    """One UPDATE consumes the ticket, one SELECT loads account, student and service."""
    register()
    ticket = ticket_from(signed_in(active_student))
    with CaptureQueriesContext(connection) as queries:
        response = Client().get(
            "/cas/p3/serviceValidate", {"ticket": ticket, "service": SERVICE_URL}
        )
    assert b"authenticationSuccess" in response.content
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    # PostgreSQL: both in one statement (WITH … UPDATE … RETURNING, then the SELECT).
    expected = ["WITH"] if connection.vendor == "postgresql" else ["UPDATE", "SELECT"]
    assert statements == expected


def test_warn_asks_before_signing_in(server: str, active_student: Any) -> None:
    register()
    browser = signed_in(active_student)
    response = browser.get("/cas/login", {"service": SERVICE_URL, "warn": "true"})
    assert response.status_code == 200 and not CasTicket.objects.exists()
    page = page_text(response)
    assert "Continuer vers App" in page and "Sophie Germain" in page
    continue_url = re.search(r'<a class="button" href="([^"]+)"', page)
    assert continue_url is not None and "warn" not in continue_url.group(1)
    response = browser.get(continue_url.group(1))
    ticket = parse_qs(urlsplit(response["Location"]).query)["ticket"][0]
    assert client_v3(server).verify_ticket(ticket)[0] == active_student.student_number


def test_pattern_must_match_the_whole_url(active_student: Any) -> None:
    register(pattern=r"https://app\.example\.org/login/")
    browser = signed_in(active_student)
    assert browser.get("/cas/login", {"service": SERVICE_URL}).status_code == 302
    for longer in (SERVICE_URL + "x", SERVICE_URL + "@evil.com", SERVICE_URL + "?next=//evil"):
        assert browser.get("/cas/login", {"service": longer}).status_code == 403


def test_proxy_granting_ticket_dies_with_the_sign_on_session(
    server: str, active_student: Any, loopback_callbacks: None
) -> None:
    """Spec 3.3.1: a PGT must expire when the student logs out."""
    register("backend", r"https://backend\.example\.org/.*")
    browser = signed_in(active_student)
    with http_server() as callback:
        register(cas_proxy_callback_pattern=re.escape(callback.url) + "/cb")
        ticket = ticket_from(browser)
        client_v3(server, proxy_callback=callback.url + "/cb").verify_ticket(ticket)
        pgt = callback.requests[0][2]["pgtId"][0]
    backend = client_v3(server, BACKEND_URL)
    assert backend.get_proxy_ticket(pgt).startswith("PT-")
    browser.post("/logout")
    response = requests.get(
        server + "proxy", params={"pgt": pgt, "targetService": BACKEND_URL}, timeout=10
    )
    failure = ET.fromstring(response.content).find("cas:proxyFailure", NS)  # noqa: S314
    assert failure is not None and failure.attrib["code"] == "INVALID_TICKET"


def test_asynchronous_commit_stays_with_the_validation(active_student: Any) -> None:
    """The consuming statement commits without waiting for the disk; the connection does not.

    (On SQLite, which has no such setting, the ticket's single use is what is checked.)
    """
    register()
    ticket = ticket_from(signed_in(active_student))
    response = Client().get("/cas/p3/serviceValidate", {"ticket": ticket, "service": SERVICE_URL})
    assert b"authenticationSuccess" in response.content
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"
    # Consumed for every other session at once.
    assert CasTicket.objects.filter(consumed_at__isnull=False).count() == 1
    response = Client().get("/cas/p3/serviceValidate", {"ticket": ticket, "service": SERVICE_URL})
    assert b"INVALID_TICKET" in response.content
