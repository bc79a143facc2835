"""The demo's stand-in services (``ent demo``): single sign-on works out of the box."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from ent.sso.cas_demo import register_demo_cas_services
from ent.sso.demo_services import EDT_URL, MOODLE_URL, DemoServices, demo_services_start
from ent.sso.oidc import register_demo_oidc_client
from tests.sso.oidc_helpers import browser_login, csrf_of, ent

__all__ = ["ent"]  # fixture, used by name

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(ent: str) -> Iterator[DemoServices]:
    """The demo services on 127.0.0.1:8001, registered as ``ent demo`` registers them."""
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
    moodle = browser.get(MOODLE_URL, timeout=10)
    assert moodle.status_code == 200 and moodle.url == MOODLE_URL
    assert "connecté par CAS" in moodle.text and active_student.student_number in moodle.text
    timetable = browser.get(EDT_URL, timeout=10)
    assert timetable.status_code == 200 and timetable.url == EDT_URL
    assert "connecté par OpenID Connect" in timetable.text
    assert active_student.student_number in timetable.text
    assert len(demo.moodle_sessions) == 1 and len(demo.edt_sessions) == 1

    home = browser.get(f"{ent}/", timeout=10)
    browser.post(f"{ent}/logout", data={"csrfmiddlewaretoken": csrf_of(home.text)}, timeout=10)
    deadline = time.monotonic() + 10
    while demo.moodle_sessions or demo.edt_sessions:  # single logout runs in the background
        assert time.monotonic() < deadline, "the demo services were not logged out"
        time.sleep(0.05)
    again = browser.get(MOODLE_URL, timeout=10)
    assert again.url.startswith(f"{ent}/login?next=")
