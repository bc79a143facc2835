"""Two university services written with off-the-shelf client libraries, for end-to-end tests.

* ``CasService`` signs people in with python-cas (CAS 3.0), as a Moodle or a Zimbra would, and
  honours the single-logout request ENT POSTs to it.
* ``OidcService`` is an OpenID Connect relying party built with authlib: discovery, code flow with
  PKCE S256, ID token checked against the JWKS with its nonce, userinfo, and back-channel logout.

Each is a small WSGI application served on a loopback port in a thread. Neither knows anything of
ENT but its base URL: that is the point ("without any change on their side").
"""

from __future__ import annotations

import html
import json
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from xml.etree import ElementTree

import requests

StartResponse = Callable[..., Any]
COOKIE = "rp_session"


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _page(title: str, body: str) -> bytes:
    return (
        f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title></head><body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    ).encode()


@dataclass
class _Base:
    """Cookie sessions and a server thread shared by both relying parties."""

    name: str
    port: int = 0
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    logout_requests: list[str] = field(default_factory=list)
    _server: WSGIServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        self._server = make_server(
            "127.0.0.1", 0, self, server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        self.port = self._server.server_port
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _session(self, environ: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        sid = cookie[COOKIE].value if COOKIE in cookie else None
        return sid, self.sessions.get(sid or "")

    def _signed_in_page(self, start: StartResponse, who: dict[str, Any]) -> Iterable[bytes]:
        rows = "".join(
            f"<li>{html.escape(k)} : <span data-attr='{html.escape(k)}'>"
            f"{html.escape(str(v))}</span></li>"
            for k, v in sorted(who.items())
        )
        start("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [_page(f"{self.name} — connecté", f"<ul>{rows}</ul>")]

    def _new_session(self, start: StartResponse, data: dict[str, Any]) -> Iterable[bytes]:
        sid = secrets.token_urlsafe(16)
        self.sessions[sid] = data
        start(
            "302 Found",
            [("Location", self.url), ("Set-Cookie", f"{COOKIE}={sid}; Path=/; HttpOnly")],
        )
        return [b""]

    def _redirect(self, start: StartResponse, location: str) -> Iterable[bytes]:
        start("302 Found", [("Location", location)])
        return [b""]

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        raise NotImplementedError


@dataclass
class CasService(_Base):
    """A CAS 3.0 service using python-cas; single logout drops the session of the ticket."""

    cas_url: str = ""  # ENT's CAS prefix, e.g. http://127.0.0.1:8000/cas/

    def _client(self) -> Any:
        from cas import CASClient

        return CASClient(version=3, server_url=self.cas_url, service_url=self.url)

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if method == "POST":  # CAS single logout: a SAML LogoutRequest in logoutRequest=
            length = int(environ.get("CONTENT_LENGTH") or 0)
            form = parse_qs(environ["wsgi.input"].read(length).decode())
            request = form.get("logoutRequest", [""])[0]
            index = ElementTree.fromstring(request).find(  # noqa: S314 (ENT, a test peer)
                "{urn:oasis:names:tc:SAML:2.0:protocol}SessionIndex"
            )
            ticket = (index.text or "").strip() if index is not None else ""
            self.logout_requests.append(ticket)
            for sid, data in list(self.sessions.items()):
                if data.get("ticket") == ticket:
                    del self.sessions[sid]
            start("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        if "ticket" in query:
            ticket = query["ticket"][0]
            user, attributes, _pgt = self._client().verify_ticket(ticket)
            if not user:
                start("403 Forbidden", [("Content-Type", "text/html; charset=utf-8")])
                return [_page(f"{self.name} — refusé", "<p>ticket refusé</p>")]
            return self._new_session(start, {"user": user, "ticket": ticket, **attributes})
        _sid, data = self._session(environ)
        if data is not None:
            return self._signed_in_page(start, {k: v for k, v in data.items() if k != "ticket"})
        return self._redirect(start, self._client().get_login_url())


@dataclass
class OidcService(_Base):
    """An OpenID Connect relying party built with authlib (code + PKCE S256, nonce, JWKS)."""

    issuer: str = ""
    client_id: str = ""
    client_secret: str = ""
    pending: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def redirect_uri(self) -> str:
        return self.url + "callback"

    @property
    def logout_uri(self) -> str:
        return self.url + "backchannel-logout"

    def _metadata(self) -> dict[str, Any]:
        response = requests.get(self.issuer + "/.well-known/openid-configuration", timeout=5)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def _session_client(self, **kwargs: Any) -> Any:
        from authlib.integrations.requests_client import OAuth2Session

        return OAuth2Session(
            self.client_id,
            self.client_secret,
            scope="openid profile email",
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            **kwargs,
        )

    def _claims(self, meta: dict[str, Any], token: str, **expected: Any) -> dict[str, Any]:
        """Verify a JWT's RS256 signature against the live JWKS, then its claims."""
        from joserfc import jwt
        from joserfc.jwk import KeySet

        keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=5).json())
        decoded = jwt.decode(token, keys, algorithms=["RS256"])
        registry = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": meta["issuer"]},
            aud={"essential": True, "value": self.client_id},
            **{name: {"essential": True, "value": value} for name, value in expected.items()},
        )
        registry.validate(decoded.claims)
        return dict(decoded.claims)

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        from authlib.common.security import generate_token

        path = environ.get("PATH_INFO", "/")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        meta = self._metadata()
        if path == "/backchannel-logout" and environ["REQUEST_METHOD"] == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            form = parse_qs(environ["wsgi.input"].read(length).decode())
            token = form.get("logout_token", [""])[0]
            claims = self._claims(meta, token)
            assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"]
            assert "nonce" not in claims  # OIDC Back-Channel Logout 1.0, section 2.4
            self.logout_requests.append(str(claims.get("sub")))
            for sid, data in list(self.sessions.items()):
                if data.get("sub") == claims.get("sub"):
                    del self.sessions[sid]
            start("200 OK", [("Content-Type", "text/plain"), ("Cache-Control", "no-store")])
            return [b""]
        if path == "/callback":
            state = query.get("state", [""])[0]
            flow = self.pending.pop(state, None)
            if flow is None or "code" not in query:
                start("400 Bad Request", [("Content-Type", "text/html; charset=utf-8")])
                return [_page(f"{self.name} — erreur", f"<p>{html.escape(json.dumps(query))}</p>")]
            client = self._session_client(state=state)
            token = client.fetch_token(
                meta["token_endpoint"],
                code=query["code"][0],
                code_verifier=flow["verifier"],
            )
            claims = self._claims(meta, token["id_token"], nonce=flow["nonce"])
            info = client.get(meta["userinfo_endpoint"]).json()
            assert info["sub"] == claims["sub"]
            return self._new_session(start, info)
        _sid, data = self._session(environ)
        if data is not None:
            return self._signed_in_page(start, data)
        verifier, state, nonce = generate_token(48), generate_token(24), generate_token(24)
        self.pending[state] = {"verifier": verifier, "nonce": nonce}
        client = self._session_client()
        url, _state = client.create_authorization_url(
            meta["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier
        )
        return self._redirect(start, url)
