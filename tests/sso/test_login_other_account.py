"""Signing in as another student on a browser that has a session: the first one is logged out
for real (CAS single logout, OIDC back-channel logout, tickets deleted), not merely flushed."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ent.core.models import AuditEvent
from ent.sso.models import CasTicket, OidcSession
from tests.conftest import GOOD_PASSWORD
from tests.sso import oidc_helpers
from tests.sso.cas_helpers import http_server, register, signed_in, ticket_from

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _short_timeout(settings: Any) -> None:
    settings.CAS_HTTP_TIMEOUT_SECONDS = 1


def _oidc_code(browser: Any, client: oidc_helpers.Client) -> str:
    """Follow /oauth/authorize (code flow, PKCE S256) in the browser: the code it returns."""
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    response = browser.get(
        "/oauth/authorize/",
        {
            "client_id": client.client_id,
            "response_type": "code",
            "redirect_uri": oidc_helpers.RP_REDIRECT,
            "scope": "openid",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "nonce": "n1",
            "state": "s1",
        },
    )
    assert response.status_code == 302, response.content
    return parse_qs(urlsplit(response["Location"]).query)["code"][0]


def test_other_student_signing_in_logs_the_first_one_out(make_active_student: Any) -> None:
    first = make_active_student(first_name="Ada", email="ada@example.org")
    second = make_active_student(first_name="Emmy", email="emmy@example.org")
    with http_server() as cas_slo, http_server() as oidc_slo:
        register(logout_url=cas_slo.url + "/slo")
        client = oidc_helpers.register(slug="edt", logout_url=oidc_slo.url + "/bc")
        browser = signed_in(first)
        ticket = ticket_from(browser)
        _oidc_code(browser, client)
        assert CasTicket.objects.filter(account=first.account).exists()
        assert OidcSession.objects.filter(account=first.account).exists()

        response = browser.post(
            "/login", {"identifier": second.student_number, "password": GOOD_PASSWORD}
        )
        assert response.status_code == 302

        cas_slo.wait()
        oidc_slo.wait()
        _method, path, _query, form = cas_slo.requests[0]
        assert path == "/slo" and ticket in form["logoutRequest"][0]
        _method, path, _query, form = oidc_slo.requests[0]
        assert path == "/bc" and "logout_token" in form
    assert not CasTicket.objects.filter(account=first.account).exists()
    assert not OidcSession.objects.filter(account=first.account).exists()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGOUT, student=first).count() == 1
    # The browser now belongs to the second student.
    assert int(browser.session["_auth_user_id"]) == second.account.pk


def test_same_student_signing_in_again_keeps_the_session(active_student: Any) -> None:
    with http_server() as cas_slo:
        register(logout_url=cas_slo.url + "/slo")
        browser = signed_in(active_student)
        ticket_from(browser)
        response = browser.post(
            "/login", {"identifier": active_student.student_number, "password": GOOD_PASSWORD}
        )
        assert response.status_code == 302
        assert CasTicket.objects.filter(account=active_student.account).exists()
        assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGOUT).exists()
        assert cas_slo.requests == []
