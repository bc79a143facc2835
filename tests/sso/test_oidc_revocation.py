"""Revocations that survive a refused token request, and where an access token may travel.

Black-box against the live ENT (issue 13 §1): a refresh token replayed after rotation revokes
its whole family, a replayed authorization code revokes what its first exchange produced
(RFC 6749 4.1.2, RFC 9700 4.2.4), although both answers are ``invalid_grant`` and the token
endpoint rolls a refused exchange back. And an access token is taken from the Authorization
header only (RFC 9700 2.4, RFC 6750 2.3).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests
from oauth2_provider.models import AccessToken, Grant, RefreshToken

from ent.core import clock
from ent.core.models import AuditEvent
from ent.sso.models import OidcSpentCode
from tests.sso.oidc_helpers import (
    RP_REDIRECT,
    Authorization,
    Client,
    authorize,
    browser_login,
    client_app,
    ent,
    register,
)

__all__ = ["client_app", "ent"]  # fixtures, used by name

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def signed_in(ent: str, active_student: Any) -> requests.Session:
    return browser_login(ent, active_student.student_number)


def _token(ent: str, client: Client, **data: str) -> requests.Response:
    """A POST to the token endpoint as the service (client_secret_basic)."""
    return requests.post(
        f"{ent}/oauth/token/", data=data, auth=(client.client_id, client.secret), timeout=30
    )


def _code_exchange(ent: str, client: Client, authz: Authorization) -> requests.Response:
    return _token(
        ent,
        client,
        grant_type="authorization_code",
        code=authz.params["code"][0],
        redirect_uri=RP_REDIRECT,
        code_verifier=authz.verifier,
    )


def _refresh(ent: str, client: Client, refresh_token: str) -> requests.Response:
    return _token(ent, client, grant_type="refresh_token", refresh_token=refresh_token)


def _userinfo(ent: str, access_token: str) -> int:
    return requests.get(
        f"{ent}/oauth/userinfo/", headers={"Authorization": f"Bearer {access_token}"}, timeout=30
    ).status_code


def _invalid_grant(response: requests.Response) -> bool:
    return response.status_code == 400 and response.json()["error"] == "invalid_grant"


# --- Refresh-token replay ---------------------------------------------------------------------


def _replay_audited(replayed: str, student: Any, client: Client) -> bool:
    """The replay is in the audit log (written after the refusal, like the revocation)."""
    event = AuditEvent.objects.filter(kind=AuditEvent.Kind.OIDC_TOKEN_REPLAYED).earliest("pk")
    return (
        event.student_id == student.pk
        and event.ip == "127.0.0.1"
        and event.data == {"client_id": client.client_id, "replayed": replayed}
    )


def test_refresh_token_replay_revokes_the_family(
    ent: str, client_app: Client, signed_in: requests.Session, active_student: Any
) -> None:
    first = _code_exchange(ent, client_app, authorize(ent, signed_in, client_app))
    assert first.status_code == 200
    at0, rt0 = first.json()["access_token"], first.json()["refresh_token"]
    second = _refresh(ent, client_app, rt0)
    assert second.status_code == 200
    at1, rt1 = second.json()["access_token"], second.json()["refresh_token"]
    assert _userinfo(ent, at1) == 200
    assert _userinfo(ent, at0) == 401  # rotation

    assert _invalid_grant(_refresh(ent, client_app, rt0))  # replay of the rotated token
    assert _userinfo(ent, at1) == 401
    assert _invalid_grant(_refresh(ent, client_app, rt1))
    assert AccessToken.objects.count() == 0
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    assert _replay_audited("refresh_token", active_student, client_app)


def test_other_sessions_survive_a_replay(
    ent: str, client_app: Client, signed_in: requests.Session
) -> None:
    """Only the replayed token's family goes: the same student's other sign-in keeps working."""
    other = _code_exchange(ent, client_app, authorize(ent, signed_in, client_app)).json()
    first = _code_exchange(ent, client_app, authorize(ent, signed_in, client_app)).json()
    assert _refresh(ent, client_app, first["refresh_token"]).status_code == 200
    assert _invalid_grant(_refresh(ent, client_app, first["refresh_token"]))
    assert _userinfo(ent, other["access_token"]) == 200
    assert _refresh(ent, client_app, other["refresh_token"]).status_code == 200


def test_unknown_refresh_token_revokes_nothing(
    ent: str, client_app: Client, signed_in: requests.Session
) -> None:
    tokens = _code_exchange(ent, client_app, authorize(ent, signed_in, client_app)).json()
    assert _invalid_grant(_refresh(ent, client_app, "x" * 43))
    assert _userinfo(ent, tokens["access_token"]) == 200
    assert _refresh(ent, client_app, tokens["refresh_token"]).status_code == 200


# --- Authorization-code replay ----------------------------------------------------------------


def test_code_replay_revokes_the_tokens_it_produced(
    ent: str, client_app: Client, signed_in: requests.Session, active_student: Any
) -> None:
    authz = authorize(ent, signed_in, client_app)
    first = _code_exchange(ent, client_app, authz)
    assert first.status_code == 200
    at0, rt0 = first.json()["access_token"], first.json()["refresh_token"]
    assert _userinfo(ent, at0) == 200
    # What the code produced, refreshed since: the refresh family started by the code.
    refreshed = _refresh(ent, client_app, rt0).json()
    at1, rt1 = refreshed["access_token"], refreshed["refresh_token"]

    assert _invalid_grant(_code_exchange(ent, client_app, authz))
    assert _userinfo(ent, at1) == 401
    assert _invalid_grant(_refresh(ent, client_app, rt1))
    assert AccessToken.objects.count() == 0
    assert _replay_audited("authorization_code", active_student, client_app)


def test_code_replay_revokes_the_first_access_token(
    ent: str, client_app: Client, signed_in: requests.Session
) -> None:
    authz = authorize(ent, signed_in, client_app)
    tokens = _code_exchange(ent, client_app, authz).json()
    assert _invalid_grant(_code_exchange(ent, client_app, authz))
    assert _userinfo(ent, tokens["access_token"]) == 401
    assert _invalid_grant(_refresh(ent, client_app, tokens["refresh_token"]))


def test_spent_code_is_kept_as_a_digest_until_it_expires(
    ent: str, client_app: Client, signed_in: requests.Session
) -> None:
    authz = authorize(ent, signed_in, client_app)
    code = authz.params["code"][0]
    expires = Grant.objects.get().expires
    tokens = _code_exchange(ent, client_app, authz).json()
    spent = OidcSpentCode.objects.get()
    assert Grant.objects.count() == 0
    assert code not in spent.code_hash and len(spent.code_hash) == 64
    assert spent.expires_at == expires
    assert spent.application_id == client_app.service.oidc_client.application_id  # type: ignore[attr-defined]
    assert spent.access_token_id == AccessToken.objects.get().pk
    assert spent.token_family == RefreshToken.objects.get().token_family
    assert tokens["access_token"] not in str(spent.__dict__)


def test_code_replay_by_another_client_revokes_nothing(
    ent: str, client_app: Client, signed_in: requests.Session
) -> None:
    """Only the client the code was issued to (authenticated with its secret) can revoke."""
    authz = authorize(ent, signed_in, client_app)
    tokens = _code_exchange(ent, client_app, authz).json()
    other = register(slug="autre-service")
    assert _invalid_grant(_code_exchange(ent, other, authz))
    assert _userinfo(ent, tokens["access_token"]) == 200
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.OIDC_TOKEN_REPLAYED).exists()


def test_wrong_client_secret_on_replay_revokes_nothing(
    ent: str, client_app: Client, signed_in: requests.Session
) -> None:
    authz = authorize(ent, signed_in, client_app)
    tokens = _code_exchange(ent, client_app, authz).json()
    stranger = Client(client_app.service, client_app.client_id, "not-the-secret")
    assert _code_exchange(ent, stranger, authz).json()["error"] == "invalid_client"
    assert _userinfo(ent, tokens["access_token"]) == 200


def test_purge_removes_expired_spent_codes(
    ent: str, client_app: Client, signed_in: requests.Session
) -> None:
    from ent.helpdesk.purge import purge

    for _ in range(2):
        assert _code_exchange(ent, client_app, authorize(ent, signed_in, client_app)).ok
    old, live = OidcSpentCode.objects.order_by("pk")
    OidcSpentCode.objects.filter(pk=old.pk).update(expires_at=clock.now() - timedelta(seconds=1))
    assert purge(dry_run=True).oidc_spent_codes == 1
    assert OidcSpentCode.objects.count() == 2
    report = purge(dry_run=False)
    assert report.oidc_spent_codes == 1
    assert list(OidcSpentCode.objects.values_list("pk", flat=True)) == [live.pk]


# --- The access token in the Authorization header only --------------------------------------


@pytest.fixture
def access_token(ent: str, client_app: Client, signed_in: requests.Session) -> str:
    response = _code_exchange(ent, client_app, authorize(ent, signed_in, client_app))
    return str(response.json()["access_token"])


def _refused_placement(response: requests.Response) -> bool:
    return (
        response.status_code == 401
        and response.json()["error"] == "invalid_request"
        and response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_request"')
        and "sub" not in response.text
    )


def test_userinfo_takes_the_header(ent: str, access_token: str) -> None:
    bearer = {"Authorization": f"Bearer {access_token}"}
    assert requests.get(f"{ent}/oauth/userinfo/", headers=bearer, timeout=30).status_code == 200
    assert requests.post(f"{ent}/oauth/userinfo/", headers=bearer, timeout=30).status_code == 200


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_userinfo_refuses_a_token_in_the_query(ent: str, access_token: str, method: str) -> None:
    response = requests.request(
        method, f"{ent}/oauth/userinfo/", params={"access_token": access_token}, timeout=30
    )
    assert _refused_placement(response)


def test_userinfo_refuses_a_token_in_the_form_body(ent: str, access_token: str) -> None:
    response = requests.post(
        f"{ent}/oauth/userinfo/", data={"access_token": access_token}, timeout=30
    )
    assert _refused_placement(response)


@pytest.mark.parametrize("placement", ["query", "body"])
def test_userinfo_refuses_two_placements_at_once(
    ent: str, access_token: str, placement: str
) -> None:
    """RFC 6750 2: one method per request, even when the header alone would be valid."""
    extra = {"access_token": access_token}
    response = requests.post(
        f"{ent}/oauth/userinfo/",
        headers={"Authorization": f"Bearer {access_token}"},
        params=extra if placement == "query" else None,
        data=extra if placement == "body" else None,
        timeout=30,
    )
    assert _refused_placement(response)


def test_validator_takes_the_header_only(access_token: str) -> None:
    """Any other protected endpoint built on DOT (ProtectedResourceView, protected_resource)
    would refuse a query or body token too: the validator itself checks where it came from."""
    from django.test import RequestFactory
    from oauth2_provider.oauth2_backends import get_oauthlib_core

    core = get_oauthlib_core()
    factory = RequestFactory()
    assert core.verify_request(
        factory.get("/", HTTP_AUTHORIZATION=f"Bearer {access_token}"), scopes=["openid"]
    )[0]
    assert not core.verify_request(factory.post("/", {"access_token": access_token}), ["openid"])[0]
    assert not core.verify_request(factory.get("/", {"access_token": access_token}), ["openid"])[0]


def test_metrics_token_only_in_the_header(ent: str, settings: Any) -> None:
    """The other bearer-protected endpoint, /metrics, never took its token elsewhere."""
    settings.METRICS_TOKEN = "metrics-secret-token"
    assert (
        requests.get(
            f"{ent}/metrics", params={"access_token": "metrics-secret-token"}, timeout=30
        ).status_code
        == 404
    )
    assert requests.post(
        f"{ent}/metrics", data={"access_token": "metrics-secret-token"}, timeout=30
    ).status_code in (403, 404, 405)
    bearer = {"Authorization": "Bearer metrics-secret-token"}
    assert requests.get(f"{ent}/metrics", headers=bearer, timeout=30).status_code == 200
