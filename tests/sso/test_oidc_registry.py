"""The registry drives the OIDC clients: oidc_client_sync, oidc_secret_rotate, their audit,
and what a person sees when a request is wrong (Django's test client, no live server)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client as DjangoClient
from oauth2_provider.models import AbstractApplication, Application

from ent.core.models import AuditEvent
from ent.sso.models import OidcClient, Service
from ent.sso.oidc import (
    oidc_client_sync,
    oidc_secret_rotate,
    register_demo_oidc_client,
    secret_matches,
)
from tests.conftest import page_text
from tests.sso.oidc_helpers import RP_REDIRECT, register

pytestmark = pytest.mark.django_db


def _token_request(client: DjangoClient, client_id: str, secret: str) -> Any:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return client.post(
        "/oauth/token/",
        {"grant_type": "authorization_code", "code": "x", "redirect_uri": RP_REDIRECT},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )


def test_sync_creates_a_confidential_code_client() -> None:
    registered = register(trusted=False)
    application = Application.objects.get(client_id=registered.client_id)
    assert application.client_type == AbstractApplication.CLIENT_CONFIDENTIAL
    assert application.authorization_grant_type == AbstractApplication.GRANT_AUTHORIZATION_CODE
    assert application.algorithm == AbstractApplication.RS256_ALGORITHM
    assert application.redirect_uris == RP_REDIRECT
    assert application.skip_authorization is False
    assert secret_matches(registered.secret, application.client_secret)
    assert not secret_matches(registered.secret + "x", application.client_secret)
    assert len(registered.client_id) >= 32 and len(registered.secret) >= 64
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.OIDC_CLIENT_CREATED)
    assert event.data == {
        "service": "bibliotheque",
        "client_id": registered.client_id,
        "trusted": False,
    }
    assert registered.secret not in str(event.data)


def test_sync_updates_without_new_secret() -> None:
    registered = register()
    service = registered.service
    service.oidc_redirect_uris = f"{RP_REDIRECT}\nhttps://rp.example.org/other"
    service.trusted = False
    service.name = "Bibliothèque universitaire"
    service.save()
    assert oidc_client_sync(service=service) is None
    application = Application.objects.get(client_id=registered.client_id)
    assert application.redirect_uris.split() == [RP_REDIRECT, "https://rp.example.org/other"]
    assert application.skip_authorization is False
    assert application.name == "Bibliothèque universitaire"
    assert secret_matches(registered.secret, application.client_secret)  # secret unchanged
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.OIDC_CLIENT_UPDATED).count() == 1
    assert Application.objects.count() == 1


def test_token_endpoint_with_nul_client_id() -> None:
    response = _token_request(DjangoClient(), "no\x00body", "secret")
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_rotate_replaces_the_secret() -> None:
    registered = register()
    client = DjangoClient()
    assert _token_request(client, registered.client_id, registered.secret).json()["error"] == (
        "invalid_grant"  # authenticated; the code is wrong
    )
    new = oidc_secret_rotate(service=registered.service)
    assert new != registered.secret
    response = _token_request(client, registered.client_id, registered.secret)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert _token_request(client, registered.client_id, new).json()["error"] == "invalid_grant"
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.OIDC_SECRET_ROTATED).count() == 1


@pytest.mark.parametrize(
    "uris",
    [
        "",
        "rp.example.org/callback",
        "ftp://rp.example.org/cb",
        "https://rp.example.org/cb#x",
        "https://user@rp.example.org/cb",
        "javascript:alert(1)",
        "https://[x/",  # urlsplit raises ValueError: refused, not a 500
        "https://[::1/cb",
    ],
)
def test_bad_redirect_uris_refused(uris: str) -> None:
    service = Service.objects.create(
        name="X",
        slug="x",
        home_url="https://x.example.org/",
        protocol=Service.Protocol.OIDC,
        oidc_redirect_uris=uris,
    )
    with pytest.raises(ValidationError) as excinfo:
        oidc_client_sync(service=service)
    assert "oidc_redirect_uris" in excinfo.value.message_dict
    assert Application.objects.count() == 0


def test_client_id_taken_by_another_service() -> None:
    first = register(slug="a")
    second = Service.objects.create(
        name="B",
        slug="b",
        home_url="https://b.example.org/",
        protocol=Service.Protocol.OIDC,
        oidc_redirect_uris="https://b.example.org/cb",
        oidc_client_id=first.client_id,
    )
    with pytest.raises(ValidationError) as excinfo:
        oidc_client_sync(service=second)
    assert "oidc_client_id" in excinfo.value.message_dict


def test_disabled_deleted_or_cas_service_cannot_authenticate() -> None:
    client = DjangoClient()
    registered = register()
    service = registered.service
    service.enabled = False
    service.save()
    assert _token_request(client, registered.client_id, registered.secret).status_code == 401
    service.enabled = True
    service.save()
    assert _token_request(client, registered.client_id, registered.secret).status_code == 400
    service.protocol = Service.Protocol.CAS
    service.save()
    assert oidc_client_sync(service=service) is None
    assert not Application.objects.exists() and not OidcClient.objects.exists()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.OIDC_CLIENT_REMOVED).count() == 1
    other = register(slug="autre")
    other.service.delete()
    assert not Application.objects.exists()


def test_demo_client_registered_once() -> None:
    client_id, secret = register_demo_oidc_client()
    assert secret is not None
    again_id, again_secret = register_demo_oidc_client()
    assert again_id == client_id and again_secret is None
    assert Service.objects.filter(protocol=Service.Protocol.OIDC).count() == 1


# --- Pages a person sees (French, never a 500, never a redirect elsewhere) -------------------


@pytest.fixture
def signed_in(client: DjangoClient, active_student: Any) -> DjangoClient:
    client.force_login(active_student.account)
    return client


def test_authorize_errors_are_french_pages(signed_in: DjangoClient) -> None:
    registered = register()
    base = "/oauth/authorize/?response_type=code&scope=openid&code_challenge_method=S256"
    base += "&code_challenge=" + "a" * 43
    cases = {
        f"{base}": "pas enregistré auprès de l'ENT",
        f"{base}&client_id=inconnu&redirect_uri={RP_REDIRECT}": "pas enregistré auprès de l'ENT",
        f"{base}&client_id={registered.client_id}": "n'est pas enregistrée à l'ENT",
        f"{base}&client_id={registered.client_id}&redirect_uri=https://evil.example.org/": "n'est pas enregistrée à l'ENT",
        f"{base}&client_id=%00&redirect_uri={RP_REDIRECT}": "pas enregistré auprès de l'ENT",
    }
    for url, message in cases.items():
        response = signed_in.get(url)
        assert response.status_code == 400, url
        text = page_text(response)
        assert "Connexion au service impossible" in text and message in text, url


def test_tampered_consent_form_is_not_a_500(signed_in: DjangoClient) -> None:
    for data in (
        {
            "client_id": "no\x00body",
            "redirect_uri": RP_REDIRECT,
            "scope": "openid",
            "response_type": "code",
            "allow": "on",
        },
        {
            "client_id": "nobody",
            "redirect_uri": RP_REDIRECT,
            "scope": "openid",
            "response_type": "code",
            "allow": "on",
        },
        {},
    ):
        response = signed_in.post("/oauth/authorize/", data)
        assert response.status_code == 400
        assert "Connexion au service impossible" in page_text(response)


def test_logout_errors_are_french_pages(signed_in: DjangoClient) -> None:
    for url in (
        "/oauth/logout/?client_id=nobody",
        "/oauth/logout/?client_id=%00",
        "/oauth/logout/?id_token_hint=not-a-jwt",
        "/oauth/logout/?post_logout_redirect_uri=https://evil.example.org/",
    ):
        response = signed_in.get(url)
        assert response.status_code == 400, url
        assert "Déconnexion impossible" in page_text(response), url
    assert "_auth_user_id" in signed_in.session
