"""RP-initiated logout with someone else's ID token: nobody's tokens are revoked but the
signed-in user's, and an expired ID token is refused."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from oauth2_provider.models import AccessToken

from tests.sso.oidc_helpers import (
    RP_HOME,
    Client,
    authorize,
    browser_login,
    client_app,
    csrf_of,
    ent,
    exchange,
)

__all__ = ["client_app", "ent"]  # fixtures, used by name

pytestmark = pytest.mark.django_db(transaction=True)


def _signed_in_with_token(ent: str, client: Client, student: Any) -> tuple[requests.Session, str]:
    browser = browser_login(ent, student.student_number)
    return browser, exchange(ent, authorize(ent, browser, client))["id_token"]


def _is_signed_in(ent: str, browser: requests.Session) -> bool:
    return "Se déconnecter" in browser.get(f"{ent}/", timeout=10).text


def _tokens_of(student: Any) -> int:
    return AccessToken.objects.filter(user=student.account).count()


def test_visitor_without_session_revokes_nothing(
    ent: str, client_app: Client, active_student: Any
) -> None:
    browser, id_token = _signed_in_with_token(ent, client_app, active_student)
    assert _tokens_of(active_student) == 1
    query = urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": RP_HOME})
    response = requests.get(f"{ent}/oauth/logout/?{query}", allow_redirects=False, timeout=10)
    assert response.status_code == 302 and response.headers["Location"] == RP_HOME
    assert _tokens_of(active_student) == 1
    assert _is_signed_in(ent, browser)
    # The student's own logout with the same hint still revokes them.
    response = browser.get(f"{ent}/oauth/logout/?{query}", allow_redirects=False, timeout=10)
    assert response.status_code == 302 and not _is_signed_in(ent, browser)
    assert _tokens_of(active_student) == 0


def test_other_student_confirming_logout_revokes_only_their_own(
    ent: str, client_app: Client, make_active_student: Any
) -> None:
    ada = make_active_student(first_name="Ada", email="ada@example.org")
    emmy = make_active_student(first_name="Emmy", email="emmy@example.org")
    ada_browser, ada_token = _signed_in_with_token(ent, client_app, ada)
    emmy_browser, _emmy_token = _signed_in_with_token(ent, client_app, emmy)
    page = emmy_browser.get(f"{ent}/oauth/logout/?{urlencode({'id_token_hint': ada_token})}")
    assert page.status_code == 200  # not her token: she is asked first
    response = emmy_browser.post(
        page.url,
        data={"csrfmiddlewaretoken": csrf_of(page.text), "id_token_hint": ada_token, "allow": "on"},
        allow_redirects=False,
    )
    assert response.status_code == 302
    assert not _is_signed_in(ent, emmy_browser) and _tokens_of(emmy) == 0
    assert _is_signed_in(ent, ada_browser) and _tokens_of(ada) == 1


def test_expired_id_token_is_refused(
    ent: str, client_app: Client, active_student: Any, settings: Any
) -> None:
    # Expired beyond the JWT library's 60 s of leeway.
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "ID_TOKEN_EXPIRE_SECONDS": -300}
    browser, id_token = _signed_in_with_token(ent, client_app, active_student)
    query = urlencode({"id_token_hint": id_token})
    response = requests.get(f"{ent}/oauth/logout/?{query}", allow_redirects=False, timeout=10)
    assert response.status_code == 400
    assert _tokens_of(active_student) == 1 and _is_signed_in(ent, browser)
