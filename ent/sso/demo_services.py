"""Two stand-in university services for ``ent demo``, so single sign-on can be tried at once.

On ``http://127.0.0.1:8001`` (``ENT_DEMO_SERVICES_PORT``; demo mode only, started by ``ent demo``):

* ``/moodle/`` signs people in through ENT's CAS server (``/cas/login``, then
  ``/cas/p3/serviceValidate``) and honours CAS single logout;
* ``/edt/`` ("Emploi du temps") is an OpenID Connect relying party: code flow with PKCE S256,
  ID token verified against ENT's JWKS (jwcrypto), nonce, userinfo, back-channel logout.

They are deliberately tiny and keep their sessions in memory. They use only what ENT already
depends on (requests, jwcrypto); the test suite checks ENT with off-the-shelf client libraries
(python-cas, authlib) instead, in ``tests/e2e/relying_parties.py``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from xml.etree import ElementTree

import requests
from django.conf import settings
from jwcrypto import jwk, jwt
from jwcrypto.common import JWException

log = logging.getLogger(__name__)

HOST = "127.0.0.1"


def origin() -> str:
    """Where the stand-ins answer: ``http://127.0.0.1:<ENT_DEMO_SERVICES_PORT>`` (8001).

    Read at each use, not at import: the tests serve them on a free port of their own."""
    return f"http://{HOST}:{settings.DEMO_SERVICES_PORT}"


def moodle_url() -> str:
    """The stand-in Moodle (a CAS client)."""
    return f"{origin()}/moodle/"


def edt_url() -> str:
    """The stand-in "Emploi du temps" (an OpenID Connect relying party)."""
    return f"{origin()}/edt/"


def edt_redirect_uri() -> str:
    """The timetable's registered redirect URI."""
    return f"{origin()}/oidc/callback"


def edt_logout_uri() -> str:
    """The timetable's back-channel logout URI."""
    return f"{origin()}/edt/backchannel-logout"


CAS_NS = "{http://www.yale.edu/tp/cas}"
SAMLP_NS = "{urn:oasis:names:tc:SAML:2.0:protocol}"
_LONG_TERM = "longTermAuthenticationRequestTokenUsed"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
StartResponse = Callable[..., Any]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("demo services: " + format, *args)


def _page(title: str, body: str, ent_url: str) -> list[bytes]:
    return [
        (
            '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title>"
            "<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;"
            "padding:0 1rem;line-height:1.5}dt{font-weight:700}</style></head><body><main>"
            f"<p><em>Service de démonstration</em></p><h1>{html.escape(title)}</h1>{body}"
            f'<p><a href="{html.escape(ent_url)}/">Retour à l\'ENT</a></p></main></body></html>'
        ).encode()
    ]


def _details(values: dict[str, Any]) -> str:
    rows = "".join(
        f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(str(v))}</dd>"
        for k, v in sorted(values.items())
    )
    return f"<dl>{rows}</dl>"


class DemoServices:
    """The WSGI application of both stand-in services."""

    def __init__(self, *, ent_url: str, client_id: str, client_secret: str) -> None:
        self.ent_url = ent_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.moodle_sessions: dict[str, dict[str, Any]] = {}
        self.edt_sessions: dict[str, dict[str, Any]] = {}
        self.pending: dict[str, dict[str, str]] = {}

    # --- plumbing --------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        method = environ["REQUEST_METHOD"]
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            if path == "/moodle/":
                if method == "POST":
                    return self._moodle_logout(self._form(environ), start)
                return self._moodle(environ, query, start)
            if path == "/edt/backchannel-logout" and method == "POST":
                return self._edt_logout(self._form(environ), start)
            if path == "/edt/":
                return self._edt(environ, start)
            if path == "/oidc/callback":
                return self._edt_callback(query, start)
        except (requests.RequestException, ValueError, KeyError, ElementTree.ParseError) as exc:
            log.warning("demo services: %s", exc)
            start("502 Bad Gateway", [("Content-Type", "text/html; charset=utf-8")])
            return _page("Erreur", f"<p>{html.escape(str(exc))}</p>", self.ent_url)
        start("302 Found", [("Location", moodle_url())])
        return [b""]

    @staticmethod
    def _form(environ: dict[str, Any]) -> dict[str, str]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(min(length, 1_000_000)).decode()
        return {k: v[0] for k, v in parse_qs(body).items()}

    @staticmethod
    def _cookie(environ: dict[str, Any], name: str) -> str:
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        return cookie[name].value if name in cookie else ""

    @staticmethod
    def _redirect(start: StartResponse, location: str, cookie: str = "") -> list[bytes]:
        headers = [("Location", location)]
        if cookie:
            headers.append(("Set-Cookie", cookie + "; Path=/; HttpOnly; SameSite=Lax"))
        start("302 Found", headers)
        return [b""]

    # --- Moodle: CAS ------------------------------------------------------------------------

    def _moodle(
        self, environ: dict[str, Any], query: dict[str, str], start: StartResponse
    ) -> Iterable[bytes]:
        session = self.moodle_sessions.get(self._cookie(environ, "demo_moodle"))
        if session is not None:
            start("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            body = "<p>Vous êtes connecté par CAS, sans nouveau mot de passe.</p>" + _details(
                session["attributes"] | {"uid": session["user"]}
            )
            return _page("Moodle — cours en ligne", body, self.ent_url)
        ticket = query.get("ticket")
        if not ticket:
            login = f"{self.ent_url}/cas/login?" + urlencode({"service": moodle_url()})
            return self._redirect(start, login)
        response = requests.get(
            f"{self.ent_url}/cas/p3/serviceValidate",
            params={"service": moodle_url(), "ticket": ticket},
            timeout=10,
        )
        # ENT's own answer, fetched from ENT: not untrusted input.
        root = ElementTree.fromstring(response.content)  # noqa: S314
        success = root.find(f"{CAS_NS}authenticationSuccess")
        if success is None:
            start("403 Forbidden", [("Content-Type", "text/html; charset=utf-8")])
            return _page("Moodle — accès refusé", "<p>Ticket refusé.</p>", self.ent_url)
        attributes: dict[str, str] = {}
        node = success.find(f"{CAS_NS}attributes")
        for child in list(node) if node is not None else []:
            name = child.tag.replace(CAS_NS, "")
            if name not in ("authenticationDate", "isFromNewLogin", _LONG_TERM):
                attributes[name] = child.text or ""
        sid = secrets.token_urlsafe(24)
        user = success.findtext(f"{CAS_NS}user") or ""
        self.moodle_sessions[sid] = {"user": user, "ticket": ticket, "attributes": attributes}
        return self._redirect(start, moodle_url(), f"demo_moodle={sid}")

    def _moodle_logout(self, form: dict[str, str], start: StartResponse) -> Iterable[bytes]:
        request = form.get("logoutRequest", "")
        # ENT's single-logout POST; a forged one could only end a demo session.
        index = ElementTree.fromstring(request).findtext(f"{SAMLP_NS}SessionIndex")  # noqa: S314
        for sid, session in list(self.moodle_sessions.items()):
            if session["ticket"] == (index or "").strip():
                del self.moodle_sessions[sid]
        start("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    # --- Emploi du temps: OpenID Connect ----------------------------------------------------

    def _metadata(self) -> dict[str, Any]:
        url = f"{self.ent_url}/.well-known/openid-configuration"
        data: dict[str, Any] = requests.get(url, timeout=10).json()
        return data

    def _verify(self, meta: dict[str, Any], token: str) -> dict[str, Any]:
        keys = jwk.JWKSet.from_json(requests.get(meta["jwks_uri"], timeout=10).text)
        checked = jwt.JWT(
            jwt=token,
            key=keys,
            algs=["RS256"],
            check_claims={"iss": meta["issuer"], "aud": self.client_id},
        )
        claims: dict[str, Any] = json.loads(checked.claims)
        return claims

    def _edt(self, environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        session = self.edt_sessions.get(self._cookie(environ, "demo_edt"))
        if session is not None:
            start("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            body = "<p>Vous êtes connecté par OpenID Connect, sans nouveau mot de passe.</p>"
            return _page("Emploi du temps", body + _details(session), self.ent_url)
        meta = self._metadata()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        self.pending[state] = {"nonce": nonce, "verifier": verifier}
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": edt_redirect_uri(),
            "scope": "openid profile email affiliation",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge.decode().rstrip("="),
            "code_challenge_method": "S256",
        }
        return self._redirect(start, meta["authorization_endpoint"] + "?" + urlencode(params))

    def _edt_callback(self, query: dict[str, str], start: StartResponse) -> Iterable[bytes]:
        flow = self.pending.pop(query.get("state", ""), None)
        if flow is None or "code" not in query:
            start("400 Bad Request", [("Content-Type", "text/html; charset=utf-8")])
            error = query.get("error_description") or query.get("error") or "état inconnu"
            return _page("Emploi du temps — erreur", f"<p>{html.escape(error)}</p>", self.ent_url)
        meta = self._metadata()
        token = requests.post(
            meta["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": query["code"],
                "redirect_uri": edt_redirect_uri(),
                "code_verifier": flow["verifier"],
            },
            auth=(self.client_id, self.client_secret),
            timeout=10,
        )
        token.raise_for_status()
        tokens = token.json()
        claims = self._verify(meta, tokens["id_token"])
        if claims.get("nonce") != flow["nonce"]:
            raise ValueError("nonce mismatch")
        info: dict[str, Any] = requests.get(
            meta["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            timeout=10,
        ).json()
        if info.get("sub") != claims["sub"]:
            raise ValueError("userinfo sub mismatch")
        sid = secrets.token_urlsafe(24)
        self.edt_sessions[sid] = info
        return self._redirect(start, edt_url(), f"demo_edt={sid}")

    def _edt_logout(self, form: dict[str, str], start: StartResponse) -> Iterable[bytes]:
        # Back-Channel Logout 1.0, 2.8: a logout token that fails validation gets a 400, and
        # the stand-in says why in one line. It raised instead, and the server printed a
        # traceback: what any token signed with another key (another ENT instance reaching
        # 127.0.0.1:8001, e.g. the test suite run beside the demo) showed as "JWTMissingKey:
        # No working key found in key set".
        try:
            claims = self._verify(self._metadata(), form.get("logout_token", ""))
            if BACKCHANNEL_EVENT not in claims.get("events", {}):
                raise ValueError("not a logout token")
        except (JWException, ValueError, TypeError, KeyError) as exc:
            log.warning("demo services: logout token refused (%s)", type(exc).__name__)
            start(
                "400 Bad Request", [("Content-Type", "text/plain"), ("Cache-Control", "no-store")]
            )
            return [b""]
        for sid, session in list(self.edt_sessions.items()):
            if session.get("sub") == claims.get("sub"):
                del self.edt_sessions[sid]
        start("200 OK", [("Content-Type", "text/plain"), ("Cache-Control", "no-store")])
        return [b""]


def demo_services_start(*, ent_url: str, client_id: str, client_secret: str) -> WSGIServer:
    """Serve both stand-in services on 127.0.0.1:ENT_DEMO_SERVICES_PORT in a background thread."""
    app = DemoServices(ent_url=ent_url, client_id=client_id, client_secret=client_secret)
    server = make_server(
        HOST, settings.DEMO_SERVICES_PORT, app, server_class=_Server, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, name="demo-services", daemon=True).start()
    return server
