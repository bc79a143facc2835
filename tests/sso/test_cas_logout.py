"""CAS logout and single logout: real HTTP servers receive the SAML LogoutRequest."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cas import CASClientV3
from django.test import Client

from ent.core.models import AuditEvent
from ent.sso import cas
from ent.sso.models import CasTicket, Service
from tests.conftest import free_port, page_text
from tests.sso.cas_helpers import SERVICE_URL, http_server, register, signed_in, ticket_from

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _short_timeout(settings: Any) -> None:
    settings.CAS_HTTP_TIMEOUT_SECONDS = 1


def session_index(form: dict[str, list[str]]) -> str:
    """The ticket named by a received LogoutRequest, read by python-cas."""
    request = form["logoutRequest"][0]
    nodes = CASClientV3.get_saml_slos(request)
    assert nodes is not None and len(nodes) == 1
    return str(nodes[0].text)


def test_logout_posts_logout_request_to_each_service(active_student: Any) -> None:
    with http_server() as app, http_server() as other:
        register(logout_url=app.url + "/slo")
        register(
            "other",
            r"http://127\.0\.0\.1:[0-9]+/.*",
            home_url="https://other.example.org/",
        )
        browser = signed_in(active_student)
        first = ticket_from(browser)
        second = ticket_from(browser, other.url + "/app/")
        response = browser.post("/logout")
        assert response.status_code == 302
        app.wait()
        other.wait()
        method, path, _, form = app.requests[0]
        assert (method, path) == ("POST", "/slo")
        assert session_index(form) == first
        assert CASClientV3.verify_logout_request(form["logoutRequest"][0], first)
        # No logout_url: the URL the service signed in with receives it.
        method, path, _, form = other.requests[0]
        assert (method, path) == ("POST", "/app/") and session_index(form) == second
        assert "<samlp:SessionIndex>" in form["logoutRequest"][0]
    assert "Activer mon compte" in page_text(browser.get("/"))


def test_failing_services_do_not_block_logout(active_student: Any, settings: Any) -> None:
    # A logout that waited for the hanging service would take the whole timeout (5 s).
    settings.CAS_HTTP_TIMEOUT_SECONDS = 5
    closed = free_port()  # nobody listens: connection refused
    with http_server(status=500) as broken, http_server(delay=10) as hanging, http_server() as ok:
        register(
            "refused", r"https://refused\.example\.org/.*", logout_url=f"http://127.0.0.1:{closed}/"
        )
        register("broken", r"https://broken\.example\.org/.*", logout_url=broken.url + "/")
        register("hanging", r"https://hanging\.example\.org/.*", logout_url=hanging.url + "/")
        register("ok", r"https://ok\.example\.org/.*", logout_url=ok.url + "/")
        browser = signed_in(active_student)
        for host in ("refused", "broken", "hanging", "ok"):
            ticket_from(browser, f"https://{host}.example.org/")
        started = time.monotonic()
        response = browser.post("/logout")
        assert time.monotonic() - started < 2.5  # the hanging service is not waited for
        assert response.status_code == 302
        ok.wait()
        broken.wait()
        hanging.wait()
        assert "Activer mon compte" in page_text(browser.get("/"))


def test_unreachable_host_does_not_raise(db: None) -> None:
    service = register(logout_url="http://127.0.0.1:1/")
    threads = cas.single_logout_send([["ST-" + "a" * 40, service.pk, SERVICE_URL]])
    for thread in threads:
        thread.join(5)
        assert not thread.is_alive()


def test_logout_ends_unused_tickets_and_proxy_granting_tickets(active_student: Any) -> None:
    register()
    browser = signed_in(active_student)
    ticket = ticket_from(browser)
    assert CasTicket.objects.count() == 1
    browser.post("/logout")
    assert not CasTicket.objects.exists()
    result = cas.ticket_validate(
        ticket=ticket,
        service_url=SERVICE_URL,
        renew=False,
        pgt_url="",
        allow_proxy_tickets=False,
        ip=None,
    )
    assert result.code is cas.ErrorCode.INVALID_TICKET


def test_cas_logout_redirects_only_to_registered_services(active_student: Any) -> None:
    register()
    browser = signed_in(active_student)
    response = browser.get("/cas/logout", {"service": SERVICE_URL + "bye"})
    assert response.status_code == 302 and response["Location"] == SERVICE_URL + "bye"
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGOUT).count() == 1
    assert "Activer mon compte" in page_text(browser.get("/"))

    for attempt in (
        "https://evil.example.com/",
        "https://app.example.org.evil.com/",
        "//evil.example.com/",
        "javascript:alert(1)",
    ):
        browser = signed_in(active_student)
        response = browser.get("/cas/logout", {"service": attempt})
        assert response.status_code == 200 and "Location" not in response
        assert "Vous êtes déconnecté" in page_text(response)
        assert "Activer mon compte" in page_text(browser.get("/"))
    # The CAS 2.0 "url" parameter is ignored (spec 2.3.1).
    response = Client().get("/cas/logout", {"url": SERVICE_URL})
    assert response.status_code == 200


def test_cas_logout_of_a_disabled_service_shows_the_page(active_student: Any) -> None:
    service = register()
    Service.objects.filter(pk=service.pk).update(enabled=False)
    response = signed_in(active_student).get("/cas/logout", {"service": SERVICE_URL})
    assert response.status_code == 200


def test_logout_request_document() -> None:
    document = cas.logout_request_xml("ST-abc")
    assert document.startswith("<samlp:LogoutRequest")
    assert 'Version="2.0"' in document and "@NOT_USED@" in document
    assert CASClientV3.verify_logout_request(document, "ST-abc")


def test_tickets_end_for_an_account(active_student: Any, make_active_student: Any) -> None:
    register()
    other = make_active_student(email="ada@example.org", first_name="Ada")
    ticket_from(signed_in(active_student))
    ticket_from(signed_in(other))
    assert cas.tickets_end(account=active_student.account) == 1
    assert list(CasTicket.objects.values_list("account__student", flat=True)) == [other.pk]


def test_sessions_ended_elsewhere_are_logged_out_of_cas_services(active_student: Any) -> None:
    """A password reset or a help-desk lock ends the sessions: their services are told too."""
    from ent.accounts.sessions import sessions_end

    with http_server() as app:
        register(logout_url=app.url + "/slo")
        browser = signed_in(active_student)
        ticket = ticket_from(browser)
        assert sessions_end(account=active_student.account) == 1
        app.wait()
        method, path, _, form = app.requests[0]
        assert (method, path) == ("POST", "/slo")
        assert session_index(form) == ticket
    assert not CasTicket.objects.filter(account=active_student.account).exists()
