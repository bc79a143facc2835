"""Security headers on the pages a student and the help desk see (ent.core.csp, ent.core.security).

Every HTML page: a Content-Security-Policy with no inline script and no framing,
``X-Content-Type-Options``, ``Referrer-Policy``, ``X-Frame-Options``,
``Cross-Origin-Opener-Policy``, ``Permissions-Policy``; HSTS over https. The forms whose
redirects end at a registered service name that service's origin in ``form-action``, and
nothing else; a view can still set a policy of its own (the webmail's recipe in settings).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from csp.constants import NONE, SELF
from csp.decorators import csp, csp_update
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from django.views.decorators.clickjacking import xframe_options_sameorigin

from ent.core.csp import form_action_allow, origin_of
from ent.core.security import PERMISSIONS_POLICY
from ent.sso.models import Service
from tests.sso.oidc_helpers import RP_HOME, register

pytestmark = pytest.mark.django_db

BASE_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
}


def policy(response: Any) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    header = response["Content-Security-Policy"]
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            assert words[0] not in directives, f"{words[0]} twice in {header}"
            directives[words[0]] = words[1:]
    return directives


def assert_page_headers(response: Any, *, form_action: list[str] | None = None) -> None:
    expected = dict(BASE_POLICY)
    if form_action is not None:
        expected["form-action"] = ["'self'", *form_action]
    assert policy(response) == expected, response["Content-Security-Policy"]
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Permissions-Policy"] == PERMISSIONS_POLICY
    assert "camera=()" in response["Permissions-Policy"]
    assert response["Referrer-Policy"] in ("same-origin", "no-referrer")


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/login", 200),
        ("/activation/", 200),
        ("/password/reset/", 200),
        ("/update-request/", 200),
        ("/documentation/", 200),
        ("/helpdesk/login", 200),
        ("/demo/outbox", 200),
        ("/cas/login?service=https://unknown.example.org/", 403),
        ("/no/such/page", 404),
    ],
)
def test_public_pages_carry_the_headers(client: Client, url: str, status: int) -> None:
    response = client.get(url)
    assert response.status_code == status
    assert_page_headers(response)
    assert response["Referrer-Policy"] == "same-origin"


def test_signed_in_pages_carry_the_headers(client: Client, active_student: Any) -> None:
    client.force_login(active_student.account)
    for url in ("/", "/account/", "/account/password/", "/account/email/", "/charter/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_page_headers(response)
    response = client.get("/oauth/authorize/?client_id=nobody")  # the OIDC error page
    assert response.status_code == 400
    assert_page_headers(response)


def test_help_desk_pages_carry_the_headers(agent_client: Client) -> None:
    for url in ("/helpdesk/", "/helpdesk/search?q=x", "/helpdesk/requests/"):
        response = agent_client.get(url)
        assert response.status_code == 200, url
        assert_page_headers(response)


def test_mailed_link_pages_keep_no_referrer(client: Client) -> None:
    response = client.get("/activation/confirm?code=N4QWQ6FVIT6451ACN54P")
    assert response["Referrer-Policy"] == "no-referrer"
    assert policy(response)["script-src"] == ["'self'"]


def test_static_files_and_json_carry_nosniff_and_csp(client: Client) -> None:
    response = client.get("/.well-known/openid-configuration")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert policy(response)["default-src"] == ["'self'"]
    assert response.json()["authorization_response_iss_parameter_supported"] is True


# --- form-action: the sign-in forms that end at a service ------------------------------------


def _cas_service(url: str = "https://moodle.univ-perp.fr") -> Service:
    return Service.objects.create(
        name="Moodle",
        slug="moodle",
        home_url=url + "/",
        protocol=Service.Protocol.CAS,
        cas_service_pattern=url.replace(".", r"\.") + "/.*",
    )


def test_login_page_for_a_cas_service_allows_its_origin(client: Client) -> None:
    _cas_service()
    service = "https://moodle.univ-perp.fr/course/view.php?id=3"
    response = client.get(
        "/login?" + urlencode({"next": "/cas/login?" + urlencode({"service": service})})
    )
    assert_page_headers(response, form_action=["https://moodle.univ-perp.fr"])
    # A refused password shows the same form again: the same allowance.
    response = client.post(
        "/login",
        {"identifier": "21000001", "password": "wrong", "next": "/cas/login?service=" + service},
    )
    assert_page_headers(response, form_action=["https://moodle.univ-perp.fr"])


@pytest.mark.parametrize(
    "service",
    [
        "https://evil.example.org/",  # not registered
        "https://moodle.univ-perp.fr.evil.example.org/",  # does not match the pattern
        "https://moodle.univ-perp.fr/x;script-src%20*",  # matches: the origin is all we take
    ],
)
def test_login_page_names_nothing_the_registry_does_not_hold(client: Client, service: str) -> None:
    _cas_service()
    response = client.get(
        "/login?" + urlencode({"next": "/cas/login?" + urlencode({"service": service})})
    )
    expected = (
        ["https://moodle.univ-perp.fr"]
        if service.startswith("https://moodle.univ-perp.fr/")
        else []
    )
    assert_page_headers(response, form_action=expected)
    assert "*" not in response["Content-Security-Policy"]


def test_login_page_for_a_trusted_oidc_service_allows_its_redirect_uri(client: Client) -> None:
    rp = register(slug="emploi", trusted=True, redirect_uris="https://edt.univ-perp.fr:8443/cb")
    authorize = "/oauth/authorize/?" + urlencode(
        {
            "client_id": rp.client_id,
            "redirect_uri": "https://edt.univ-perp.fr:8443/cb",
            "response_type": "code",
        }
    )
    response = client.get("/login?" + urlencode({"next": authorize}))
    assert_page_headers(response, form_action=["https://edt.univ-perp.fr:8443"])
    # Another redirect URI than the registered one: nothing is added.
    forged = authorize.replace("edt.univ-perp.fr", "evil.example.org")
    response = client.get("/login?" + urlencode({"next": forged}))
    assert_page_headers(response)


def test_cas_post_page_allows_the_service(client: Client, active_student: Any) -> None:
    _cas_service()
    client.force_login(active_student.account)
    service = "https://moodle.univ-perp.fr/post"
    response = client.get("/cas/login?" + urlencode({"service": service, "method": "POST"}))
    assert response.status_code == 200
    assert b'src="/static/ent/cas_post.js"' in response.content
    assert_page_headers(response, form_action=["https://moodle.univ-perp.fr"])


def test_consent_and_logout_pages_allow_the_relying_party(
    client: Client, active_student: Any
) -> None:
    rp = register(slug="forum", trusted=False, redirect_uris="https://forum.univ-perp.fr/cb")
    client.force_login(active_student.account)
    response = client.get(
        "/oauth/authorize/?"
        + urlencode(
            {
                "response_type": "code",
                "client_id": rp.client_id,
                "redirect_uri": "https://forum.univ-perp.fr/cb",
                "scope": "openid",
                "code_challenge": create_s256_code_challenge("v" * 50),
                "code_challenge_method": "S256",
            }
        )
    )
    assert response.status_code == 200 and b"oidc-consent" in response.content
    assert_page_headers(response, form_action=["https://forum.univ-perp.fr"])
    response = client.get(f"/oauth/logout/?client_id={rp.client_id}")
    assert response.status_code == 200
    assert_page_headers(response)  # no post_logout_redirect_uri asked: nothing added
    response = client.get(
        "/oauth/logout/?"
        + urlencode({"client_id": rp.client_id, "post_logout_redirect_uri": RP_HOME})
    )
    assert response.status_code == 200 and b"oidc-consent" in response.content
    assert_page_headers(response, form_action=["https://rp.example.org"])


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://a.example.org/x?y#z", "https://a.example.org"),
        ("HTTP://A.example.org:8080/", "http://a.example.org:8080"),
        ("http://[::1]:8001/cb", "http://[::1]:8001"),
        ("https://a.example.org;script-src/", None),
        ("https://a b.example.org/", None),
        ("https://a.example.org:99999/", None),
        ("javascript:alert(1)", None),
        ("/relative", None),
        ("https://user:pw@a.example.org/", "https://a.example.org"),
    ],
)
def test_origin_of(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


# --- A view with its own policy (the webmail's recipe, ent/settings.py) ------------------------


@xframe_options_sameorigin
@csp(
    {
        "default-src": [NONE],
        "img-src": ["data:"],
        "style-src": ["'unsafe-inline'"],
        "frame-ancestors": [SELF],
        "base-uri": [NONE],
        "form-action": [NONE],
        "sandbox": True,
    }
)
def message_body(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<p>mail</p>")


def own_header(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("x")
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


@csp_update({"img-src": ["https://img.example.org"]})
def updated(request: HttpRequest) -> HttpResponse:
    return form_action_allow(HttpResponse("x"), "https://svc.example.org/cb")


urlpatterns = [
    path("body", message_body),
    path("own", own_header),
    path("updated", updated),
]


@pytest.mark.urls(__name__)
def test_a_view_can_have_its_own_policy(client: Client) -> None:
    response = client.get("/body")
    assert policy(response) == {
        "default-src": ["'none'"],
        "img-src": ["data:"],
        "style-src": ["'unsafe-inline'"],
        "frame-ancestors": ["'self'"],
        "base-uri": ["'none'"],
        "form-action": ["'none'"],
        "sandbox": [],
    }
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert client.get("/own")["Content-Security-Policy"] == "default-src 'none'"
    # csp_update and form_action_allow together: both kept.
    directives = policy(client.get("/updated"))
    assert directives["img-src"] == ["'self'", "data:", "https://img.example.org"]
    assert directives["form-action"] == ["'self'", "https://svc.example.org"]


# --- https: HSTS, SSL redirect, X-Forwarded-Proto only from a trusted proxy --------------------


def test_https_headers_and_proxy_trust(settings: Any) -> None:
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    client = Client()  # middleware built with these settings

    response = client.get("/login", secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"

    # Plain http: redirected, no HSTS on the http answer.
    response = client.get("/login")
    assert response.status_code == 301 and response["Location"].startswith("https://")
    assert "Strict-Transport-Security" not in response

    # The trusted proxy says the client spoke https: believed.
    response = client.get("/login", REMOTE_ADDR="10.0.0.7", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200 and "Strict-Transport-Security" in response
    # Anybody else saying so: not believed (redirected like any http request).
    response = client.get("/login", REMOTE_ADDR="192.0.2.9", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 301

    # The load balancer's probe over http is not redirected.
    assert client.get("/healthz").status_code == 200
