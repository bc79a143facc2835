"""The demo's stand-in services (``ent demo``): single sign-on works out of the box."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from jwcrypto import jwk, jwt
from oauth2_provider.models import Application

from ent.sso.cas_demo import register_demo_cas_services
from ent.sso.demo_services import (
    BACKCHANNEL_EVENT,
    DemoServices,
    demo_services_start,
    edt_logout_uri,
    edt_url,
    moodle_url,
)
from ent.sso.models import Service
from ent.sso.oidc import register_demo_oidc_client
from tests.conftest import free_port
from tests.sso.oidc_helpers import browser_login, csrf_of, ent

__all__ = ["ent"]  # fixture, used by name

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(ent: str, settings: Any) -> Iterator[DemoServices]:
    """The demo services on a free port (never the demo's 8001, which ``make run`` may hold),
    registered as ``ent demo`` registers them."""
    settings.DEMO_SERVICES_PORT = free_port()
    register_demo_cas_services()
    client_id, secret = register_demo_oidc_client()
    assert secret
    server = demo_services_start(ent_url=ent, client_id=client_id, client_secret=secret)
    try:
        yield server.get_app()  # type: ignore[misc]
    finally:
        server.shutdown()
        server.server_close()


def test_demo_services_sign_in_and_out_with_ent(
    ent: str, demo: DemoServices, active_student: Any
) -> None:
    browser = browser_login(ent, active_student.student_number)
    moodle = browser.get(moodle_url(), timeout=10)
    assert moodle.status_code == 200 and moodle.url == moodle_url()
    assert "connecté par CAS" in moodle.text and active_student.student_number in moodle.text
    timetable = browser.get(edt_url(), timeout=10)
    assert timetable.status_code == 200 and timetable.url == edt_url()
    assert "connecté par OpenID Connect" in timetable.text
    assert active_student.student_number in timetable.text
    assert len(demo.moodle_sessions) == 1 and len(demo.edt_sessions) == 1

    home = browser.get(f"{ent}/", timeout=10)
    browser.post(f"{ent}/logout", data={"csrfmiddlewaretoken": csrf_of(home.text)}, timeout=10)
    deadline = time.monotonic() + 10
    while demo.moodle_sessions or demo.edt_sessions:  # single logout runs in the background
        assert time.monotonic() < deadline, "the demo services were not logged out"
        time.sleep(0.05)
    again = browser.get(moodle_url(), timeout=10)
    assert again.url.startswith(f"{ent}/login?next=")


def test_demo_services_follow_their_port(ent: str, settings: Any) -> None:
    """``ENT_DEMO_SERVICES_PORT`` moves the stand-ins, and a demo database registered with
    another port is pointed at the new one (its OpenID Connect client too)."""
    settings.DEMO_SERVICES_PORT = 8001
    register_demo_oidc_client()
    settings.DEMO_SERVICES_PORT = 18123
    register_demo_cas_services()
    client_id, secret = register_demo_oidc_client()
    assert secret is None  # the client is kept, only its addresses change
    assert Application.objects.get(client_id=client_id).redirect_uris == (
        "http://127.0.0.1:18123/oidc/callback"
    )
    assert Service.objects.get(slug="emploi-du-temps").home_url == "http://127.0.0.1:18123/edt/"
    assert Service.objects.get(slug="moodle").home_url == "http://127.0.0.1:18123/moodle/"


def _wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():  # single logout runs in the background
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_signing_out_twice_in_a_row_logs_no_traceback(
    ent: str, demo: DemoServices, active_student: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    """Issue 13 §6: sign in, sign out, sign in again, sign out again: each back-channel logout
    ends the timetable's session, and the stand-in logs no traceback. A logout token signed
    with another key (another ENT instance, e.g. the tests beside the demo, reaching the same
    address) is refused with a 400 and one line, as Back-Channel Logout 1.0 §2.8 asks; it was
    an uncaught ``JWTMissingKey: No working key found in key set`` and its traceback."""
    for _round in range(2):
        browser = browser_login(ent, active_student.student_number)
        timetable = browser.get(edt_url(), timeout=10)
        assert "connecté par OpenID Connect" in timetable.text
        assert len(demo.edt_sessions) == 1
        home = browser.get(f"{ent}/", timeout=10)
        browser.post(f"{ent}/logout", data={"csrfmiddlewaretoken": csrf_of(home.text)}, timeout=10)
        _wait_until(lambda: not demo.edt_sessions, "the timetable was not logged out")
        browser.post(f"{ent}/logout", data={"csrfmiddlewaretoken": csrf_of(home.text)}, timeout=10)

    other_key = jwk.JWK.generate(kty="RSA", size=2048, kid="another-ent")
    token = jwt.JWT(
        header={"alg": "RS256", "typ": "logout+jwt", "kid": "another-ent"},
        claims={"iss": ent, "aud": demo.client_id, "events": {BACKCHANNEL_EVENT: {}}},
    )
    token.make_signed_token(other_key)
    for body in ({"logout_token": token.serialize()}, {"logout_token": "garbage"}, {}):
        refused = requests.post(edt_logout_uri(), data=body, timeout=10)
        assert refused.status_code == 400
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "JWTMissingKey" not in captured.err + captured.out
