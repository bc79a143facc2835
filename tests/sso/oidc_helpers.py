"""Fixtures and helpers of the OpenID Connect tests: a live ENT, a registered client, and a
relying party built with authlib (the way a real service would talk to ENT)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from ent.sso.models import Attribute, Service
from ent.sso.oidc import oidc_client_sync
from tests.conftest import GOOD_PASSWORD

RP_REDIRECT = "https://rp.example.org/callback"
RP_HOME = "https://rp.example.org/"
ALL_SCOPES = "openid profile email affiliation"


@dataclass
class Client:
    """A registered OIDC service and its secret in clear (as staff would have copied it)."""

    service: Service
    client_id: str
    secret: str


def register(
    *,
    slug: str = "bibliotheque",
    trusted: bool = True,
    attributes: list[str] | None = None,
    redirect_uris: str = RP_REDIRECT,
    logout_url: str = "",
) -> Client:
    """Register an OIDC service through the registry service function."""
    service = Service.objects.create(
        name=f"Service {slug}",
        slug=slug,
        home_url=RP_HOME,
        protocol=Service.Protocol.OIDC,
        oidc_redirect_uris=redirect_uris,
        attributes=attributes
        if attributes is not None
        else [Attribute.UID, Attribute.DISPLAY_NAME, Attribute.MAIL, Attribute.AFFILIATION],
        trusted=trusted,
        logout_url=logout_url,
    )
    secret = oidc_client_sync(service=service)
    assert secret is not None
    service.refresh_from_db()
    return Client(service=service, client_id=service.oidc_client_id, secret=secret)


@pytest.fixture
def ent(live_server: Any, settings: Any) -> str:
    """The live ENT's base URL; BASE_URL (the issuer) follows it."""
    url = str(live_server.url).rstrip("/")
    settings.BASE_URL = url
    host = urlsplit(url).hostname or ""
    if host not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host]
    return url


@pytest.fixture
def client_app(transactional_db: None) -> Client:
    """A trusted OIDC service allowed uid, displayName, mail and affiliation."""
    return register()


# Sessions opened by the helpers, closed after each test (tests/sso/conftest.py): a kept-alive
# connection holds a live-server thread, and its database connection, beyond the test, and
# PostgreSQL then refuses to drop the test database.
OPEN_SESSIONS: list[requests.Session] = []


def http_session() -> requests.Session:
    """A ``requests`` session closed at the end of the test."""
    session = requests.Session()
    OPEN_SESSIONS.append(session)
    return session


def browser_login(ent: str, identifier: str, password: str = GOOD_PASSWORD) -> requests.Session:
    """A browser-like session signed in through the real /login form (with its CSRF token)."""
    session = http_session()
    page = session.get(f"{ent}/login")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text
    response = session.post(
        f"{ent}/login",
        data={
            "identifier": identifier,
            "password": password,
            "csrfmiddlewaretoken": token.group(1),
        },
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text
    return session


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def rp_session(client: Client, scope: str = ALL_SCOPES, **kwargs: Any) -> OAuth2Session:
    """authlib's OAuth2 client for the service: code flow with PKCE S256."""
    session = OAuth2Session(
        client.client_id,
        client.secret,
        scope=scope,
        redirect_uri=RP_REDIRECT,
        code_challenge_method="S256",
        **kwargs,
    )
    OPEN_SESSIONS.append(session)
    return session


@dataclass
class Authorization:
    """What the relying party holds after the redirect back."""

    rp: OAuth2Session
    location: str
    verifier: str
    nonce: str
    state: str

    @property
    def params(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.location).query)


def authorize(
    ent: str, browser: requests.Session, client: Client, scope: str = ALL_SCOPES
) -> Authorization:
    """Start the flow as the RP, follow /oauth/authorize as the browser, stop at the redirect."""
    rp = rp_session(client, scope=scope)
    verifier = generate_token(48)
    nonce = generate_token(20)
    url, state = rp.create_authorization_url(
        f"{ent}/oauth/authorize/", code_verifier=verifier, nonce=nonce
    )
    response = browser.get(url, allow_redirects=False)
    assert response.status_code == 302, response.text
    return Authorization(rp, response.headers["Location"], verifier, nonce, state)


def exchange(ent: str, authz: Authorization) -> dict[str, Any]:
    """The RP's token request (client_secret_basic, code_verifier)."""
    token = authz.rp.fetch_token(
        f"{ent}/oauth/token/",
        authorization_response=authz.location,
        code_verifier=authz.verifier,
        state=authz.state,
    )
    return dict(token)


def verify_id_token(ent: str, id_token: str, client_id: str, nonce: str) -> dict[str, Any]:
    """Check the ID token as an RP does: signature against the live JWKS, iss, aud, nonce, exp."""
    config = requests.get(f"{ent}/.well-known/openid-configuration", timeout=10).json()
    keys = KeySet.import_key_set(requests.get(config["jwks_uri"], timeout=10).json())
    token = jwt.decode(id_token, keys, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": config["issuer"]},
        aud={"essential": True, "value": client_id},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
        sub={"essential": True},
    ).validate(token.claims)
    assert token.header["alg"] == "RS256"
    return dict(token.claims)
