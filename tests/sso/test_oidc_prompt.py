"""``prompt=none`` (OpenID Connect Core 1.0, section 3.1.2.6): silent sign-in never shows a page.

Relying parties use it to check, without disturbing the student, whether the ENT session is
still open: a signed-in student gets a code at once (trusted service), a signed-out one gets
``login_required`` at the registered redirect URI, a service that needs consent gets
``consent_required``; an unregistered redirect URI still gets the ENT's error page, never a
redirect.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.sso.oidc_helpers import RP_REDIRECT, Client, browser_login, ent, http_session, register

__all__ = ["ent"]  # fixture, used by name

pytestmark = pytest.mark.django_db(transaction=True)


def _silent_url(ent: str, client: Client, **overrides: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": RP_REDIRECT,
        "scope": "openid",
        "state": "st-42",
        "nonce": "n-42",
        "code_challenge": create_s256_code_challenge(generate_token(48)),
        "code_challenge_method": "S256",
        "prompt": "none",
    }
    params.update(overrides)
    return f"{ent}/oauth/authorize/?" + urlencode(params)


def _answer(location: str) -> dict[str, list[str]]:
    assert location.startswith(RP_REDIRECT + "?"), location
    return parse_qs(urlsplit(location).query)


def test_signed_in_student_gets_a_code_silently(ent: str, active_student: Any) -> None:
    client = register()
    browser = browser_login(ent, active_student.student_number)
    response = browser.get(_silent_url(ent, client), allow_redirects=False, timeout=10)
    assert response.status_code == 302
    answer = _answer(response.headers["Location"])
    assert answer["state"] == ["st-42"] and answer["code"][0]


def test_signed_out_gets_login_required(ent: str, db: None) -> None:
    client = register()
    response = http_session().get(_silent_url(ent, client), allow_redirects=False, timeout=10)
    assert response.status_code == 302
    answer = _answer(response.headers["Location"])
    assert answer["error"] == ["login_required"] and answer["state"] == ["st-42"]
    assert "code" not in answer


def test_consent_needed_gets_consent_required(ent: str, active_student: Any) -> None:
    client = register(trusted=False)
    browser = browser_login(ent, active_student.student_number)
    response = browser.get(_silent_url(ent, client), allow_redirects=False, timeout=10)
    assert response.status_code == 302
    answer = _answer(response.headers["Location"])
    assert answer["error"] == ["consent_required"] and "code" not in answer


@pytest.mark.parametrize("signed_in", [False, True])
def test_unregistered_redirect_uri_is_never_redirected_to(
    ent: str, active_student: Any, signed_in: bool
) -> None:
    client = register()
    browser = browser_login(ent, active_student.student_number) if signed_in else http_session()
    url = _silent_url(ent, client, redirect_uri="https://evil.example.org/callback")
    response = browser.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 400
    assert "evil.example.org" not in response.headers.get("Location", "")
