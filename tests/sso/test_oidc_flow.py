"""The OpenID Connect provider against a live server, with authlib as the relying party.

Every test talks HTTP to the live ENT: a ``requests`` session plays the student's browser
(signed in through the real /login form), authlib's ``OAuth2Session`` plays the service.
"""

from __future__ import annotations

import html
import http.server
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.db import connection
from joserfc import jwt
from joserfc.jwk import KeySet
from oauth2_provider.models import AccessToken, Application, Grant

from ent.core.models import AuditEvent
from ent.sso.models import Attribute, OidcSession
from ent.sso.oidc import oidc_backchannel_logout, oidc_client_sync
from tests.sso.oidc_helpers import (
    ALL_SCOPES,
    RP_HOME,
    RP_REDIRECT,
    Client,
    authorize,
    browser_login,
    client_app,
    csrf_of,
    ent,
    exchange,
    http_session,
    register,
    rp_session,
    verify_id_token,
)

__all__ = ["client_app", "ent"]  # fixtures, used by name

pytestmark = pytest.mark.django_db(transaction=True)


def _params(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)


def _authorize_url(ent: str, client: Client, **overrides: str) -> str:
    verifier = generate_token(48)
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": RP_REDIRECT,
        "scope": "openid",
        "state": "xyz",
        "nonce": "n-0S6",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return f"{ent}/oauth/authorize/?" + urlencode({k: v for k, v in params.items() if v != ""})


# --- Discovery ------------------------------------------------------------------------------


def test_discovery_document(ent: str) -> None:
    config = requests.get(f"{ent}/.well-known/openid-configuration", timeout=10).json()
    assert config["issuer"] == ent
    assert config["authorization_endpoint"] == f"{ent}/oauth/authorize/"
    assert config["token_endpoint"] == f"{ent}/oauth/token/"
    assert config["userinfo_endpoint"] == f"{ent}/oauth/userinfo/"
    assert config["jwks_uri"] == f"{ent}/oauth/jwks/"
    assert config["end_session_endpoint"] == f"{ent}/oauth/logout/"
    assert config["response_types_supported"] == ["code"]
    assert config["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]
    assert config["backchannel_logout_supported"] is True
    assert {"openid", "profile", "email"} <= set(config["scopes_supported"])
    assert {"sub", "preferred_username", "email", "eduperson_affiliation"} <= set(
        config["claims_supported"]
    )
    keys = requests.get(config["jwks_uri"], timeout=10).json()["keys"]
    assert [k["kty"] for k in keys] == ["RSA"] and "d" not in keys[0]  # public part only


def test_issuer_never_from_host_header(ent: str) -> None:
    response = requests.get(
        f"{ent}/.well-known/openid-configuration", headers={"Host": "localhost"}, timeout=10
    )
    assert response.json()["issuer"] == ent


# --- The code flow ----------------------------------------------------------------------------


def test_code_flow_with_pkce(ent: str, client_app: Client, make_active_student: Any) -> None:
    student = make_active_student(first_name="Ada", last_name="Lovelace")
    browser = browser_login(ent, student.student_number)
    authz = authorize(ent, browser, client_app)
    assert authz.location.startswith(RP_REDIRECT + "?")
    assert authz.params["state"] == [authz.state]
    token = exchange(ent, authz)
    claims = verify_id_token(ent, token["id_token"], client_app.client_id, authz.nonce)
    assert student.student_number not in claims["sub"]
    info = authz.rp.get(f"{ent}/oauth/userinfo/").json()
    assert info["sub"] == claims["sub"]
    assert info["preferred_username"] == student.student_number
    assert info["name"] == "Ada Lovelace"
    assert info["email"] == student.institutional_email and info["email_verified"] is True
    assert info["eduperson_affiliation"] == ["student"]
    # Not allowed by the registry, although the profile scope was granted:
    assert "given_name" not in info and "family_name" not in info
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.OIDC_AUTHORIZED)
    assert event.student == student and event.data["service"] == "bibliotheque"
    assert OidcSession.objects.filter(service=client_app.service).count() == 1


def test_claims_follow_registry_and_scopes(ent: str, make_active_student: Any) -> None:
    student = make_active_student(first_name="Ada", last_name="Lovelace")
    names_only = register(
        slug="notes", attributes=[Attribute.GIVEN_NAME, Attribute.SN, Attribute.MAIL]
    )
    browser = browser_login(ent, student.student_number)
    authz = authorize(ent, browser, names_only, scope="openid profile")
    exchange(ent, authz)
    info = authz.rp.get(f"{ent}/oauth/userinfo/").json()
    # mail is allowed but the email scope was not granted; uid is not allowed at all.
    assert set(info) == {"sub", "given_name", "family_name"}
    assert info["given_name"] == "Ada" and info["family_name"] == "Lovelace"
    authz = authorize(ent, browser, names_only, scope="openid")
    exchange(ent, authz)
    assert set(authz.rp.get(f"{ent}/oauth/userinfo/").json()) == {"sub"}


def test_sub_is_stable_and_opaque(ent: str, client_app: Client, make_active_student: Any) -> None:
    student = make_active_student()
    subs = []
    for _ in range(2):  # two separate sign-ins, two sessions
        browser = browser_login(ent, student.student_number)
        authz = authorize(ent, browser, client_app)
        token = exchange(ent, authz)
        subs.append(verify_id_token(ent, token["id_token"], client_app.client_id, authz.nonce))
    assert subs[0]["sub"] == subs[1]["sub"]
    assert student.student_number not in subs[0]["sub"]
    other = make_active_student(email="other@example.org")
    authz = authorize(ent, browser_login(ent, other.student_number), client_app)
    token = exchange(ent, authz)
    claims = verify_id_token(ent, token["id_token"], client_app.client_id, authz.nonce)
    assert claims["sub"] != subs[0]["sub"]


def test_anonymous_goes_through_login_and_back(
    ent: str, client_app: Client, active_student: Any
) -> None:
    browser = http_session()
    url = _authorize_url(ent, client_app)
    response = browser.get(url, allow_redirects=False)
    assert response.status_code == 302
    login_url = response.headers["Location"]
    assert login_url.startswith("/login?next=")
    page = browser.get(f"{ent}{login_url}")
    response = browser.post(
        f"{ent}{login_url}",
        data={
            "identifier": active_student.student_number,
            "password": "Ent.Perpignan2026",
            "csrfmiddlewaretoken": csrf_of(page.text),
            # the login form's own hidden field, as a browser sends it
            "next": html.unescape(
                page.text.split('action="/login"')[1].split('name="next" value="')[1].split('"')[0]
            ),
        },
        allow_redirects=False,
    )
    assert response.status_code == 302 and response.headers["Location"].startswith(
        "/oauth/authorize/?"
    )
    response = browser.get(f"{ent}{response.headers['Location']}", allow_redirects=False)
    assert response.headers["Location"].startswith(RP_REDIRECT + "?code=")


def test_trusted_skips_consent_untrusted_asks(ent: str, active_student: Any) -> None:
    untrusted = register(slug="forum", trusted=False)
    browser = browser_login(ent, active_student.student_number)
    response = browser.get(_authorize_url(ent, untrusted), allow_redirects=False)
    assert response.status_code == 200
    page = html.unescape(response.text)
    assert "Autoriser « Service forum » ?" in page and "Refuser" in page
    form = dict(
        (name, html.unescape(value))
        for name, value in __import__("re").findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"', response.text
        )
    )
    refused = browser.post(response.url, data=form, allow_redirects=False)
    assert refused.status_code == 302
    assert _params(refused.headers["Location"])["error"] == ["access_denied"]
    allowed = browser.post(response.url, data={**form, "allow": "on"}, allow_redirects=False)
    assert allowed.headers["Location"].startswith(RP_REDIRECT + "?code=")


def test_refresh_and_disabled_service(ent: str, client_app: Client, active_student: Any) -> None:
    browser = browser_login(ent, active_student.student_number)
    authz = authorize(ent, browser, client_app)
    token = exchange(ent, authz)
    refreshed = authz.rp.refresh_token(f"{ent}/oauth/token/", refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert authz.rp.get(f"{ent}/oauth/userinfo/").status_code == 200
    # Refresh tokens are single use (rotation with reuse detection).
    with pytest.raises(OAuthError):
        authz.rp.refresh_token(f"{ent}/oauth/token/", refresh_token=token["refresh_token"])
    # A new sign-in; then the help desk disables the service.
    authz = authorize(ent, browser, client_app)
    exchange(ent, authz)
    assert authz.rp.get(f"{ent}/oauth/userinfo/").status_code == 200
    service = client_app.service
    service.enabled = False
    service.save()
    assert authz.rp.get(f"{ent}/oauth/userinfo/").status_code == 401  # at once
    oidc_client_sync(service=service)
    assert AccessToken.objects.count() == 0  # and the tokens are gone


# --- Negative cases from the specifications ---------------------------------------------------


@pytest.fixture
def signed_in(ent: str, active_student: Any) -> requests.Session:
    return browser_login(ent, active_student.student_number)


def test_pkce_missing_or_plain_refused(
    ent: str, client_app: Client, signed_in: requests.Session
) -> None:
    for overrides in (
        {"code_challenge": "", "code_challenge_method": ""},
        {"code_challenge": "a" * 50, "code_challenge_method": "plain"},
    ):
        response = signed_in.get(
            _authorize_url(ent, client_app, **overrides), allow_redirects=False
        )
        assert response.status_code == 302, overrides
        location = response.headers["Location"]
        assert location.startswith(RP_REDIRECT + "?")
        params = _params(location)
        assert params["error"] == ["invalid_request"] and "code" not in params, overrides
    assert Grant.objects.count() == 0


def test_wrong_verifier_refused(ent: str, client_app: Client, signed_in: requests.Session) -> None:
    authz = authorize(ent, signed_in, client_app)
    authz.verifier = generate_token(48)
    with pytest.raises(OAuthError) as excinfo:
        exchange(ent, authz)
    assert excinfo.value.error == "invalid_grant"
    assert AccessToken.objects.count() == 0


def test_wrong_client_secret_refused(
    ent: str, client_app: Client, signed_in: requests.Session
) -> None:
    authz = authorize(ent, signed_in, client_app)
    authz.rp.client_secret = client_app.secret[:-1] + ("x" if client_app.secret[-1] != "x" else "y")
    with pytest.raises(OAuthError) as excinfo:
        exchange(ent, authz)
    assert excinfo.value.error == "invalid_client"
    assert AccessToken.objects.count() == 0


def test_code_used_once(ent: str, client_app: Client, signed_in: requests.Session) -> None:
    authz = authorize(ent, signed_in, client_app)
    exchange(ent, authz)
    with pytest.raises(OAuthError) as excinfo:
        exchange(ent, authz)
    assert excinfo.value.error == "invalid_grant"
    assert AccessToken.objects.count() == 0  # the replay revoked the first exchange's token


def test_code_is_bound_to_its_client(
    ent: str, client_app: Client, signed_in: requests.Session
) -> None:
    # Another registered client, authenticated with its own secret, cannot spend the code;
    # the code stays usable by the client it was issued to.
    authz = authorize(ent, signed_in, client_app)
    other = register(slug="autre-service")
    own_rp = authz.rp
    authz.rp = rp_session(other)
    with pytest.raises(OAuthError) as excinfo:
        exchange(ent, authz)
    assert excinfo.value.error == "invalid_grant"
    assert AccessToken.objects.count() == 0
    authz.rp = own_rp
    assert "id_token" in exchange(ent, authz)


def test_code_spent_at_once_twice_gives_one_token(
    ent: str, client_app: Client, signed_in: requests.Session
) -> None:
    authz = authorize(ent, signed_in, client_app)
    basic = (client_app.client_id, client_app.secret)
    data = {
        "grant_type": "authorization_code",
        "code": authz.params["code"][0],
        "redirect_uri": RP_REDIRECT,
        "code_verifier": authz.verifier,
    }
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def post() -> None:
        barrier.wait()
        response = requests.post(f"{ent}/oauth/token/", data=data, auth=basic, timeout=30)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 400, 400, 400]
    # The code was presented more than once: the one exchange that won is revoked as well
    # (RFC 6749 4.1.2), as a later replay would revoke it.
    assert AccessToken.objects.count() == 0
    assert Grant.objects.count() == 0


@pytest.mark.parametrize(
    "redirect_uri",
    [
        RP_REDIRECT + "/more",  # the registered URI as a prefix
        RP_REDIRECT + "?next=https://evil.example.org/",  # extra query
        "https://evil.example.org/callback",  # other host
        "https://rp.example.org:8443/callback",  # other port
        "http://rp.example.org/callback",  # other scheme
        "https://rp.example.org/callback#frag",
        "https://evil.example.org@rp.example.org/callback",
    ],
)
def test_redirect_uri_must_match_exactly(
    ent: str, client_app: Client, signed_in: requests.Session, redirect_uri: str
) -> None:
    response = signed_in.get(
        _authorize_url(ent, client_app, redirect_uri=redirect_uri), allow_redirects=False
    )
    assert response.status_code == 400 and "Location" not in response.headers
    assert "n'est pas enregistrée à l'ENT" in html.unescape(response.text)
    assert Grant.objects.count() == 0


def test_unknown_client_is_a_clear_page(ent: str, signed_in: requests.Session) -> None:
    url = _authorize_url(ent, Client(service=None, client_id="nobody", secret=""))  # type: ignore[arg-type]
    response = signed_in.get(url, allow_redirects=False)
    assert response.status_code == 400 and "Location" not in response.headers
    assert "pas enregistré auprès de l'ENT" in html.unescape(response.text)


def test_implicit_flow_refused(ent: str, client_app: Client, signed_in: requests.Session) -> None:
    for response_type in ("token", "id_token", "id_token token", "code id_token"):
        response = signed_in.get(
            _authorize_url(ent, client_app, response_type=response_type), allow_redirects=False
        )
        location = response.headers.get("Location", "")
        assert "access_token" not in location and "id_token=" not in location, response_type
        if location:
            assert location.startswith(RP_REDIRECT) and "error=" in location, response_type
        else:
            assert response.status_code == 400, response_type
    assert AccessToken.objects.count() == 0


def test_password_grant_refused(ent: str, client_app: Client, active_student: Any) -> None:
    response = requests.post(
        f"{ent}/oauth/token/",
        data={
            "grant_type": "password",
            "username": active_student.student_number,
            "password": "Ent.Perpignan2026",
            "scope": "openid",
        },
        auth=(client_app.client_id, client_app.secret),
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    assert AccessToken.objects.count() == 0


def test_client_secret_not_stored_in_clear(client_app: Client) -> None:
    stored = Application.objects.get(client_id=client_app.client_id).client_secret
    assert stored != client_app.secret and stored.startswith("ent-sha256$")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM oauth2_provider_application")
        rows = cursor.fetchall()
    assert rows and not any(client_app.secret in str(value) for row in rows for value in row)


# --- Logout -----------------------------------------------------------------------------------


def _signed_in_with_token(
    ent: str, client: Client, student: Any
) -> tuple[requests.Session, dict[str, Any]]:
    browser = browser_login(ent, student.student_number)
    authz = authorize(ent, browser, client)
    return browser, exchange(ent, authz)


def _is_signed_in(ent: str, browser: requests.Session) -> bool:
    return "Se déconnecter" in browser.get(f"{ent}/", timeout=10).text


def test_rp_initiated_logout(ent: str, client_app: Client, active_student: Any) -> None:
    browser, token = _signed_in_with_token(ent, client_app, active_student)
    assert _is_signed_in(ent, browser)
    query = urlencode(
        {"id_token_hint": token["id_token"], "post_logout_redirect_uri": RP_HOME, "state": "s1"}
    )
    response = browser.get(f"{ent}/oauth/logout/?{query}", allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"] == RP_HOME + "?state=s1"
    assert not _is_signed_in(ent, browser)
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.OIDC_LOGOUT).count() == 1


@pytest.mark.parametrize(
    "target", ["https://evil.example.org/", RP_HOME + "x", RP_HOME + "?next=/", "//evil.org/"]
)
def test_logout_redirect_must_be_registered(
    ent: str, client_app: Client, active_student: Any, target: str
) -> None:
    browser, token = _signed_in_with_token(ent, client_app, active_student)
    for params in (
        {"id_token_hint": token["id_token"], "post_logout_redirect_uri": target},
        {"client_id": client_app.client_id, "post_logout_redirect_uri": target},
        {"post_logout_redirect_uri": target},
    ):
        response = browser.get(f"{ent}/oauth/logout/?{urlencode(params)}", allow_redirects=False)
        assert response.status_code == 400 and "Location" not in response.headers, params
        assert "Déconnexion impossible" in html.unescape(response.text)
    assert _is_signed_in(ent, browser)


def test_logout_without_hint_asks_first(ent: str, client_app: Client, active_student: Any) -> None:
    browser, _token = _signed_in_with_token(ent, client_app, active_student)
    page = browser.get(f"{ent}/oauth/logout/?client_id={client_app.client_id}")
    assert page.status_code == 200 and "Se déconnecter de l'ENT ?" in html.unescape(page.text)
    assert _is_signed_in(ent, browser)
    data = {"csrfmiddlewaretoken": csrf_of(page.text), "client_id": client_app.client_id}
    stay = browser.post(page.url, data=data, allow_redirects=False)
    assert stay.status_code == 302 and _is_signed_in(ent, browser)
    leave = browser.post(page.url, data={**data, "allow": "on"}, allow_redirects=False)
    assert leave.status_code == 302 and not _is_signed_in(ent, browser)


class _LogoutCatcher(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, list[str]]] = []
    event = threading.Event()

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length).decode()
        type(self).received.append(
            {**parse_qs(body), "content-type": [self.headers["Content-Type"]]}
        )
        self.send_response(200)
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        type(self).event.set()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def logout_receiver() -> Iterator[tuple[str, type[_LogoutCatcher]]]:
    """A relying party's back-channel logout endpoint: a real HTTP server in a thread."""
    handler = type("Catcher", (_LogoutCatcher,), {"received": [], "event": threading.Event()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/backchannel-logout", handler
    finally:
        server.shutdown()
        server.server_close()


def test_backchannel_logout(
    ent: str, active_student: Any, logout_receiver: tuple[str, type[_LogoutCatcher]]
) -> None:
    url, catcher = logout_receiver
    client = register(slug="edt", logout_url=url)
    bystander = register(slug="sans-slo")  # no logout URL: nothing to send
    browser = browser_login(ent, active_student.student_number)
    authz = authorize(ent, browser, client)
    id_claims = verify_id_token(
        ent, exchange(ent, authz)["id_token"], client.client_id, authz.nonce
    )
    exchange(ent, authorize(ent, browser, bystander))
    page = browser.get(f"{ent}/")
    response = browser.post(
        f"{ent}/logout", data={"csrfmiddlewaretoken": csrf_of(page.text)}, allow_redirects=False
    )
    assert response.status_code == 302
    assert catcher.event.wait(10), "no back-channel logout received"
    assert len(catcher.received) == 1
    received = catcher.received[0]
    assert received["content-type"] == ["application/x-www-form-urlencoded"]
    config = requests.get(f"{ent}/.well-known/openid-configuration", timeout=10).json()
    keys = KeySet.import_key_set(requests.get(config["jwks_uri"], timeout=10).json())
    token = jwt.decode(received["logout_token"][0], keys, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ent},
        aud={"essential": True, "value": client.client_id},
        sub={"essential": True, "value": id_claims["sub"]},
        iat={"essential": True},
        jti={"essential": True},
    ).validate(token.claims)
    assert token.claims["events"] == {"http://schemas.openid.net/event/backchannel-logout": {}}
    assert "nonce" not in token.claims and token.header["typ"] == "logout+jwt"
    assert OidcSession.objects.count() == 0


def test_all_scopes_constant_is_supported(ent: str) -> None:
    config = requests.get(f"{ent}/.well-known/openid-configuration", timeout=10).json()
    assert set(ALL_SCOPES.split()) <= set(config["scopes_supported"])
    assert rp_session  # the helper module stays importable


def test_backchannel_logout_for_sessions_ended_elsewhere(
    ent: str, active_student: Any, logout_receiver: tuple[str, type[_LogoutCatcher]]
) -> None:
    """Sessions ended without a logout (e.g. by a password change) are announced too."""
    url, catcher = logout_receiver
    client = register(slug="edt", logout_url=url)
    browser = browser_login(ent, active_student.student_number)
    exchange(ent, authorize(ent, browser, client))
    session_key = OidcSession.objects.get().session_key
    assert oidc_backchannel_logout(session_keys=[session_key], account=active_student.account) == 1
    assert catcher.event.wait(10) and len(catcher.received) == 1
    assert oidc_backchannel_logout(session_keys=[session_key], account=active_student.account) == 0


def test_password_reset_elsewhere_logs_out_of_oidc_services(
    ent: str, active_student: Any, logout_receiver: tuple[str, type[_LogoutCatcher]]
) -> None:
    """``sessions_end`` (password reset or change, help-desk lock) tells the services too."""
    from ent.accounts.sessions import sessions_end

    url, catcher = logout_receiver
    client = register(slug="edt", logout_url=url)
    browser = browser_login(ent, active_student.student_number)
    exchange(ent, authorize(ent, browser, client))
    assert sessions_end(account=active_student.account) == 1
    assert catcher.event.wait(10) and len(catcher.received) == 1
    assert OidcSession.objects.count() == 0


def test_code_exchange_commits_without_waiting_for_the_disk(
    ent: str, client_app: Client, signed_in: requests.Session
) -> None:
    """On PostgreSQL the exchange's transaction alone turns ``synchronous_commit`` off; the
    connection keeps it on afterwards, and the code is still spent once (on SQLite, which has
    no such setting, nothing is sent)."""
    from base64 import b64encode

    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext

    authz = authorize(ent, signed_in, client_app)
    data = {
        "grant_type": "authorization_code",
        "code": authz.params["code"][0],
        "redirect_uri": RP_REDIRECT,
        "code_verifier": authz.verifier,
    }
    basic = b64encode(f"{client_app.client_id}:{client_app.secret}".encode()).decode()
    browser = DjangoClient(HTTP_AUTHORIZATION=f"Basic {basic}")
    with CaptureQueriesContext(connection) as queries:
        assert browser.post("/oauth/token/", data).status_code == 200
    settings_sent = [q["sql"] for q in queries.captured_queries if "synchronous_commit" in q["sql"]]
    if connection.vendor == "postgresql":
        assert settings_sent == ["SET LOCAL synchronous_commit TO OFF"]
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"
    else:
        assert settings_sent == []
    assert browser.post("/oauth/token/", data).status_code == 400  # spent
