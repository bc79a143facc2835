"""The authorization request, parameter by parameter (OpenID Connect Core 1.0, sections 3.1.2.1
and 3.1.2.6) and the ID token of a refresh (section 12.2), issue 13 §1.

Each parameter is tried with a signed-out and a signed-in browser (Django's test client, signed
in through the real ``/login`` form), a trusted service (no consent page) and one that asks for
consent. ``auth_time`` is the time the student typed the password: the same in every ID token
of the authorization, refreshed ones included.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client as Browser

from ent.core import clock
from ent.sso.models import OidcAuthentication, OidcSession
from tests.conftest import GOOD_PASSWORD
from tests.sso.oidc_helpers import RP_REDIRECT, Client, register

pytestmark = pytest.mark.django_db

VERIFIER = "v" * 64
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode()
CHALLENGE = CHALLENGE.rstrip("=")


@pytest.fixture
def trusted(db: None) -> Client:
    return register(slug="bibliotheque", trusted=True)


@pytest.fixture
def needs_consent(db: None) -> Client:
    return register(slug="notes", trusted=False)


def sign_in(browser: Browser, student: Any, next_url: str = "/") -> Any:
    """The real /login form (password typed now)."""
    response = browser.post(
        "/login",
        {"identifier": student.student_number, "password": GOOD_PASSWORD, "next": next_url},
    )
    assert response.status_code == 302, response.content
    return response


def signed_in(student: Any) -> Browser:
    browser = Browser()
    sign_in(browser, student)
    return browser


def url(client: Client, **overrides: str | None) -> str:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": RP_REDIRECT,
        "scope": "openid profile",
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return "/oauth/authorize/?" + urlencode({k: v for k, v in params.items() if v is not None})


def outcome(response: Any) -> str:
    """What the browser got: "code", an OAuth error code, "login", "consent" or "page <status>"."""
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith(RP_REDIRECT + "?"):
            query = parse_qs(urlsplit(location).query)
            assert query.get("state") == ["st-1"], query
            if "code" in query:
                return "code"
            return query["error"][0]
        if location.startswith("/login?"):
            return "login"
        return f"redirect {location}"
    if response.status_code == 200 and b'class="form oidc-consent"' in response.content:
        return "consent"
    return f"page {response.status_code}"


def code_of(response: Any) -> str:
    return parse_qs(urlsplit(response["Location"]).query)["code"][0]


def token_request(client: Client, **data: str) -> dict[str, Any]:
    basic = base64.b64encode(f"{client.client_id}:{client.secret}".encode()).decode()
    response = Browser().post("/oauth/token/", data, HTTP_AUTHORIZATION=f"Basic {basic}")
    assert response.status_code == 200, response.content
    return json.loads(response.content)  # type: ignore[no-any-return]


def exchange(client: Client, code: str) -> dict[str, Any]:
    return token_request(
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=RP_REDIRECT,
        code_verifier=VERIFIER,
    )


def claims_of(id_token: str) -> dict[str, Any]:
    """The ID token's claims (its signature is checked by tests/sso/test_oidc_flow.py)."""
    payload = id_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


def id_token_of(browser: Browser, client: Client, **overrides: str | None) -> dict[str, Any]:
    response = browser.get(url(client, **overrides))
    assert outcome(response) == "code"
    return exchange(client, code_of(response))


# --- prompt: every value, alone and combined ---------------------------------------------------

PROMPT_TABLE = [
    # prompt, signed-out, signed-in trusted, signed-in needing consent
    (None, "login", "code", "consent"),
    ("none", "login_required", "code", "consent_required"),
    ("login", "login", "login", "login"),
    ("consent", "login", "consent", "consent"),
    ("select_account", "login", "login", "login"),
    ("login consent", "login", "login", "login"),
    ("none login", "invalid_request", "invalid_request", "invalid_request"),
    ("none consent", "invalid_request", "invalid_request", "invalid_request"),
    ("none select_account", "invalid_request", "invalid_request", "invalid_request"),
    ("unknown-value", "login", "code", "consent"),
    ("create", "invalid_request", "invalid_request", "invalid_request"),
]


@pytest.mark.parametrize(("prompt", "out", "in_trusted", "in_consent"), PROMPT_TABLE)
def test_prompt_values_alone_and_combined(
    active_student: Any,
    trusted: Client,
    needs_consent: Client,
    prompt: str | None,
    out: str,
    in_trusted: str,
    in_consent: str,
) -> None:
    assert outcome(Browser().get(url(trusted, prompt=prompt))) == out
    assert outcome(Browser().get(url(needs_consent, prompt=prompt))) == out
    browser = signed_in(active_student)
    assert outcome(browser.get(url(trusted, prompt=prompt))) == in_trusted
    assert outcome(browser.get(url(needs_consent, prompt=prompt))) == in_consent


@pytest.mark.parametrize("prompt", ["login", "select_account", "login consent"])
def test_prompt_login_asks_the_password_again_then_gives_a_code(
    active_student: Any, trusted: Client, prompt: str
) -> None:
    browser = signed_in(active_student)
    first = clock.now()
    clock.advance(timedelta(minutes=30))
    target = url(trusted, prompt=prompt)
    assert outcome(browser.get(target)) == "login"
    # Coming back without signing in again: still the login page, no code.
    assert outcome(browser.get(target)) == "login"
    sign_in(browser, active_student, next_url=target)
    response = browser.get(target)
    if "consent" in prompt:
        assert outcome(response) == "consent"
        form = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
        response = browser.post(target, {**form, "allow": "on"})
    assert outcome(response) == "code"
    claims = claims_of(exchange(trusted, code_of(response))["id_token"])
    assert claims["auth_time"] >= int((first + timedelta(minutes=30)).timestamp()) - 1


def test_signed_out_student_signs_in_then_gets_a_code(
    active_student: Any, trusted: Client, needs_consent: Client
) -> None:
    browser = Browser()
    target = url(trusted, prompt="login", max_age="0")
    response = browser.get(target)
    assert outcome(response) == "login"
    assert parse_qs(urlsplit(response["Location"]).query)["next"] == [target]
    sign_in(browser, active_student, next_url=target)
    assert outcome(browser.get(target)) == "code"
    # The same for a service that asks for consent: the consent page after the sign-in.
    target = url(needs_consent)
    assert outcome(Browser().get(target)) == "login"


def test_prompt_consent_shows_the_consent_page_to_a_trusted_service(
    active_student: Any, trusted: Client
) -> None:
    browser = signed_in(active_student)
    target = url(trusted, prompt="consent")
    assert outcome(browser.get(target)) == "consent"
    form = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
    assert outcome(browser.post(target, form)) == "access_denied"
    assert outcome(browser.post(target, {**form, "allow": "on"})) == "code"


# --- max_age ---------------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["trusted", "needs_consent"])
def test_max_age_zero_forces_a_new_sign_in(
    active_student: Any, request: pytest.FixtureRequest, service: str
) -> None:
    client: Client = request.getfixturevalue(service)
    browser = signed_in(active_student)
    clock.advance(timedelta(seconds=5))
    target = url(client, max_age="0")
    assert outcome(browser.get(target)) == "login"
    assert outcome(browser.get(target)) == "login"  # not without the password
    typed = clock.now()
    sign_in(browser, active_student, next_url=target)
    done = clock.now()
    clock.advance(timedelta(seconds=2))  # max_age=0 is met by that sign-in: no loop
    response = browser.get(target)
    if service == "needs_consent":
        assert outcome(response) == "consent"
        form = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
        response = browser.post(target, {**form, "allow": "on"})
    assert outcome(response) == "code"
    claims = claims_of(exchange(client, code_of(response))["id_token"])
    assert _during(claims["auth_time"], typed, done)
    # The next request with max_age=0 asks again.
    assert outcome(browser.get(target)) == "login"


def test_max_age_compares_with_the_sign_in_time(active_student: Any, trusted: Client) -> None:
    browser = signed_in(active_student)
    clock.advance(timedelta(minutes=10))
    assert outcome(browser.get(url(trusted, max_age="3600"))) == "code"
    assert outcome(browser.get(url(trusted, max_age="601"))) == "code"
    assert outcome(browser.get(url(trusted, max_age="599"))) == "login"
    assert outcome(Browser().get(url(trusted, max_age="3600"))) == "login"


def test_max_age_with_prompt_none_is_login_required(active_student: Any, trusted: Client) -> None:
    browser = signed_in(active_student)
    clock.advance(timedelta(minutes=10))
    assert outcome(browser.get(url(trusted, max_age="60", prompt="none"))) == "login_required"
    assert outcome(browser.get(url(trusted, max_age="3600", prompt="none"))) == "code"


@pytest.mark.parametrize("value", ["-1", "abc", "1e309", "", "1.5", "99999999999"])
@pytest.mark.parametrize("signed", [False, True])
def test_max_age_must_be_a_number_of_seconds(
    active_student: Any, trusted: Client, value: str, signed: bool
) -> None:
    browser = signed_in(active_student) if signed else Browser()
    assert outcome(browser.get(url(trusted, max_age=value))) == "invalid_request"


def _during(auth_time: int, before: datetime, after: datetime) -> bool:
    """``auth_time`` (whole seconds) is the time of a sign-in made between the two instants:
    real time runs under the test's clock offset, so the second may turn during the sign-in."""
    return int(before.timestamp()) <= auth_time <= int(after.timestamp())


# --- auth_time and the refreshed ID token (OIDC Core 2, 12.2) ---------------------------------


def test_auth_time_is_the_sign_in_time_not_the_token_time(
    active_student: Any, trusted: Client
) -> None:
    # The password was typed 20 minutes ago (the ID token's iat and exp follow the real
    # clock, which ent.core.clock does not move).
    clock.advance(timedelta(minutes=-20))
    typed = clock.now()
    browser = signed_in(active_student)
    done = clock.now()
    clock.reset()
    tokens = id_token_of(browser, trusted)
    claims = claims_of(tokens["id_token"])
    assert _during(claims["auth_time"], typed, done)
    assert claims["iat"] >= claims["auth_time"] + 20 * 60
    # Another service signed in to later in the same session: the same auth_time.
    other = register(slug="moodle-oidc", trusted=True)
    assert claims_of(id_token_of(browser, other)["id_token"])["auth_time"] == claims["auth_time"]


def test_refreshed_id_token_keeps_iss_sub_aud_and_auth_time(
    active_student: Any, trusted: Client
) -> None:
    clock.advance(timedelta(minutes=-30))
    typed = clock.now()
    browser = signed_in(active_student)
    done = clock.now()
    clock.reset()
    tokens = id_token_of(browser, trusted, max_age="3600")
    first = claims_of(tokens["id_token"])
    assert first["nonce"] == "n-1" and _during(first["auth_time"], typed, done)
    for _ in range(2):
        tokens = token_request(
            trusted, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        )
        again = claims_of(tokens["id_token"])
        for claim in ("iss", "sub", "aud", "auth_time"):
            assert again[claim] == first[claim], claim
        assert "azp" not in again and "acr" not in again
        assert "nonce" not in again  # OIDC Core 12.2: not required, and not repeated
        assert again["iat"] >= first["iat"] and again["jti"] != first["jti"]
    # A new sign-in does not change the auth_time of the earlier authorization's tokens.
    sign_in(browser, active_student)
    tokens = token_request(
        trusted, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert claims_of(tokens["id_token"])["auth_time"] == first["auth_time"]


# --- id_token_hint, login_hint, acr_values, display, ui_locales, claims --------------------------


def test_id_token_hint(make_active_student: Any, trusted: Client) -> None:
    ada = make_active_student(first_name="Ada", last_name="Lovelace", email="ada@example.org")
    sophie = make_active_student(first_name="Sophie", last_name="Germain")
    browser = signed_in(ada)
    hint = id_token_of(browser, trusted)["id_token"]
    clock.advance(timedelta(hours=2))  # an expired ID token is still a good hint
    assert outcome(browser.get(url(trusted, id_token_hint=hint))) == "code"
    assert outcome(browser.get(url(trusted, id_token_hint=hint, prompt="none"))) == "code"
    # Another student's session: silent requests fail, others let the right student sign in.
    other = signed_in(sophie)
    assert outcome(other.get(url(trusted, id_token_hint=hint, prompt="none"))) == "login_required"
    target = url(trusted, id_token_hint=hint)
    assert outcome(other.get(target)) == "login"
    sign_in(other, ada, next_url=target)
    assert outcome(other.get(target)) == "code"
    # ... and if the student who signs in is still not the one named: login_required.
    third = signed_in(sophie)
    assert outcome(third.get(target)) == "login"
    sign_in(third, sophie, next_url=target)
    assert outcome(third.get(target)) == "login_required"
    # Signed out: the login page (the hint names who should sign in).
    assert outcome(Browser().get(target)) == "login"


@pytest.mark.parametrize("hint", ["not-a-jwt", "eyJhbGciOiJub25lIn0.e30.", "a.b.c"])
@pytest.mark.parametrize("signed", [False, True])
def test_id_token_hint_that_is_not_ours_is_invalid_request(
    active_student: Any, trusted: Client, hint: str, signed: bool
) -> None:
    browser = signed_in(active_student) if signed else Browser()
    assert outcome(browser.get(url(trusted, id_token_hint=hint))) == "invalid_request"


@pytest.mark.parametrize(
    "extra",
    [
        {"login_hint": "21000001"},
        {"login_hint": "quelqu.un@example.org"},
        {"acr_values": "urn:mace:incommon:iap:silver"},
        {"acr_values": "0 1 2"},
        {"display": "popup"},
        {"display": "wap"},
        {"ui_locales": "de-DE"},
    ],
)
def test_hints_acr_values_and_display_are_accepted(
    active_student: Any, trusted: Client, needs_consent: Client, extra: dict[str, str]
) -> None:
    """OPTIONAL parameters ENT does not act on: never an error (no acr is claimed)."""
    browser = signed_in(active_student)
    claims = claims_of(id_token_of(browser, trusted, **extra)["id_token"])
    assert "acr" not in claims
    assert outcome(browser.get(url(needs_consent, **extra))) == "consent"
    assert outcome(Browser().get(url(trusted, **extra))) == "login"


def test_ui_locales_chooses_the_language_of_the_pages(
    active_student: Any, needs_consent: Client
) -> None:
    browser = signed_in(active_student)
    english = browser.get(url(needs_consent, ui_locales="en-GB fr"))
    assert b"Authorise" in english.content and b"Autoriser" not in english.content
    french = browser.get(url(needs_consent, ui_locales="fr-CA en"))
    assert b"Autoriser" in french.content
    unknown = browser.get(url(needs_consent, ui_locales="tlh x-klingon"))
    assert outcome(unknown) == "consent"


@pytest.mark.parametrize(
    "value", ["1e309", "[]", "1", '"userinfo"', "true", "{", "{'a': 1}", "\x00"]
)
@pytest.mark.parametrize("signed", [False, True])
def test_claims_must_be_a_json_object(
    active_student: Any, trusted: Client, value: str, signed: bool
) -> None:
    """Issue 13 §5: ``claims=1e309`` was accepted when the request was read, refused when the
    grant was made (oauthlib parses it twice), and the refusal still recorded the sign-in to
    the service (an ``OidcSession`` row, an audit record) without a code."""
    browser = signed_in(active_student) if signed else Browser()
    assert outcome(browser.get(url(trusted, claims=value))) == "invalid_request"
    assert not OidcSession.objects.exists()
    assert not OidcAuthentication.objects.exists()


def test_claims_object_is_accepted(active_student: Any, trusted: Client) -> None:
    browser = signed_in(active_student)
    claims = '{"userinfo": {"email": null}, "id_token": {"auth_time": {"essential": true}}}'
    assert "auth_time" in claims_of(id_token_of(browser, trusted, claims=claims)["id_token"])


def test_a_refusal_records_no_sign_in_to_the_service(
    active_student: Any, needs_consent: Client
) -> None:
    browser = signed_in(active_student)
    target = url(needs_consent)
    form = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
    assert outcome(browser.post(target, form)) == "access_denied"
    assert not OidcSession.objects.exists()


# --- Parameters ENT does not support (OIDC Core 3.1.2.6, 6.1, 6.2, Registration 7.2.1) ---------


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("request", "request_not_supported"),
        ("request_uri", "request_uri_not_supported"),
        ("registration", "registration_not_supported"),
    ],
)
@pytest.mark.parametrize("signed", [False, True])
def test_unsupported_parameters_get_their_error(
    active_student: Any, trusted: Client, name: str, error: str, signed: bool
) -> None:
    browser = signed_in(active_student) if signed else Browser()
    value = "eyJhbGciOiJub25lIn0.e30." if name == "request" else "https://rp.example.org/x"
    assert outcome(browser.get(url(trusted, **{name: value}))) == error
    assert not OidcSession.objects.exists()


def test_a_new_sign_in_keeps_the_services_for_single_logout(
    active_student: Any, trusted: Client
) -> None:
    """max_age and prompt=login make students sign in again inside a session: the services
    signed in to before must still hear of the logout (back-channel logout)."""
    browser = signed_in(active_student)
    assert outcome(browser.get(url(trusted))) == "code"
    target = url(trusted, max_age="0")
    assert outcome(browser.get(target)) == "login"
    sign_in(browser, active_student, next_url=target)
    assert outcome(browser.get(target)) == "code"
    assert OidcSession.objects.count() >= 1
    browser.post("/logout")
    assert not OidcSession.objects.exists()


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("query", "code"), ("fragment", "invalid_request"), ("form_post", "invalid_request")],
)
def test_response_mode_query_only(
    active_student: Any, trusted: Client, mode: str, expected: str
) -> None:
    """Discovery says response_modes_supported ["query"]: a fragment was honoured (the code
    after "#"), form_post silently ignored."""
    browser = signed_in(active_student)
    response = browser.get(url(trusted, response_mode=mode))
    assert outcome(response) == expected
    assert "#" not in response["Location"]


def test_discovery_lists_the_prompt_values(db: None) -> None:
    config = json.loads(Browser().get("/.well-known/openid-configuration").content)
    assert config["prompt_values_supported"] == ["none", "login", "consent", "select_account"]
    assert config["response_modes_supported"] == ["query"]
    assert config["claims_parameter_supported"] is False
