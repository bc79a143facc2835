"""Property-based: no input to an OpenID Connect endpoint gives a server error."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sso.oidc_helpers import RP_REDIRECT, register

pytestmark = pytest.mark.django_db

text = st.text(max_size=200) | st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "é" * 5,
        "<script>",
        "' OR 1=1 --",
        "x" * 3000,
        "S256",
        "plain",
        "code",
        "token",
        "openid profile email",
        RP_REDIRECT,
        "https://evil.example.org/",
        "%00",
    ]
)
AUTHORIZE = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "claims",
]
TOKEN = [
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "client_id",
    "client_secret",
    "refresh_token",
]
LOGOUT = ["id_token_hint", "client_id", "post_logout_redirect_uri", "state"]
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(
    values=st.lists(text, min_size=len(AUTHORIZE), max_size=len(AUTHORIZE)),
    known_client=st.booleans(),
    post=st.booleans(),
)
def test_authorize_never_500(
    client: Client, active_student: Any, values: list[str], known_client: bool, post: bool
) -> None:
    client.force_login(active_student.account)
    data = dict(zip(AUTHORIZE, values, strict=True))
    if known_client:
        # Hypothesis runs every example in the same test transaction: register once.
        from ent.sso.models import Service

        service = Service.objects.filter(slug="s").first()
        data["client_id"] = service.oidc_client_id if service else register(slug="s").client_id
    response = (client.post if post else client.get)("/oauth/authorize/", data)
    assert response.status_code < 500, data


@SETTINGS
@given(values=st.lists(text, min_size=len(TOKEN), max_size=len(TOKEN)), basic=text)
def test_token_and_userinfo_never_500(client: Client, values: list[str], basic: str) -> None:
    data = dict(zip(TOKEN, values, strict=True))
    response = client.post("/oauth/token/", data, HTTP_AUTHORIZATION=f"Basic {basic}")
    assert response.status_code < 500, data
    response = client.get("/oauth/userinfo/", HTTP_AUTHORIZATION=f"Bearer {basic}")
    assert response.status_code < 500, basic
    response = client.post("/oauth/revoke/", {"token": basic})
    assert response.status_code < 500, basic


@SETTINGS
@given(values=st.lists(text, min_size=len(LOGOUT), max_size=len(LOGOUT)), post=st.booleans())
def test_logout_never_500(
    client: Client, active_student: Any, values: list[str], post: bool
) -> None:
    client.force_login(active_student.account)
    data = dict(zip(LOGOUT, values, strict=True))
    response = (client.post if post else client.get)("/oauth/logout/", data)
    assert response.status_code < 500, data
