"""The service registry at the help desk: pages, service functions, their effect on CAS and
OIDC, the secret shown once, the audit log, and the patterns that would open the registry."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oauth2_provider.models import Application

from ent.core.models import AuditEvent
from ent.sso.models import CasTicket, OidcClient, Service
from ent.sso.oidc import SECRET_PREFIX, secret_matches
from ent.sso.registry import pattern_hosts
from tests.conftest import page_text
from tests.sso.cas_helpers import SERVICE_URL, signed_in

pytestmark = pytest.mark.django_db

CAS_FORM = {
    "name": "Moodle test",
    "slug": "moodle-test",
    "description": "Cours en ligne",
    "icon": "courses",
    "home_url": "https://app.example.org/",
    "show_on_portal": "on",
    "order": "30",
    "protocol": "cas",
    "attributes": ["uid", "mail"],
    "cas_service_pattern": r"https://app\.example\.org/.*",
}
RP_REDIRECT = "https://rp.example.org/callback"
OIDC_FORM = {
    "name": "Bibliothèque",
    "slug": "bu",
    "icon": "library",
    "home_url": "https://rp.example.org/",
    "order": "40",
    "protocol": "oidc",
    "attributes": ["uid", "displayName"],
    "oidc_redirect_uris": RP_REDIRECT,
    "trusted": "on",
}


def _token_request(client_id: str, secret: str) -> Any:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return Client().post(
        "/oauth/token/",
        {"grant_type": "authorization_code", "code": "x", "redirect_uri": RP_REDIRECT},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )


def _secret_of(response: Any) -> str:
    match = re.search(r'<code id="client-secret">([^<]+)</code>', response.content.decode())
    assert match, response.content.decode()
    return match.group(1)


# --- CAS ---------------------------------------------------------------------------------------


def test_cas_service_created_then_issues_tickets(admin_client: Client, active_student: Any) -> None:
    browser = signed_in(active_student)
    before = browser.get("/cas/login", {"service": SERVICE_URL})
    assert before.status_code != 302 or "ticket=" not in before.get("Location", "")

    response = admin_client.post("/helpdesk/services/new", CAS_FORM)
    service = Service.objects.get(slug="moodle-test")
    assert (
        response.status_code == 302 and response["Location"] == f"/helpdesk/services/{service.pk}/"
    )
    assert service.attributes == ["mail", "uid"] and service.enabled
    assert not Application.objects.exists()

    after = browser.get("/cas/login", {"service": SERVICE_URL})
    assert after.status_code == 302 and "ticket=ST-" in after["Location"]
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.REGISTRY_CREATED)
    assert event.actor == admin_client.staff  # type: ignore[attr-defined]
    assert event.ip == "127.0.0.1"
    assert event.data == {
        "service": "moodle-test",
        "protocol": "cas",
        "attributes": ["mail", "uid"],
    }

    listing = page_text(admin_client.get("/helpdesk/services/"))
    assert "Moodle test" in listing and "CAS 3.0" in listing

    # Disabled: no ticket, and a ticket issued before no longer validates.
    ticket = re.search(r"ticket=([^&]+)", after["Location"]).group(1)  # type: ignore[union-attr]
    response = admin_client.post(f"/helpdesk/services/{service.pk}/disable")
    assert response.status_code == 302
    refused = browser.get("/cas/login", {"service": SERVICE_URL})
    assert "ticket=" not in refused.get("Location", "")
    validation = Client().get("/cas/p3/serviceValidate", {"service": SERVICE_URL, "ticket": ticket})
    assert "authenticationFailure" in validation.content.decode()
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.REGISTRY_DISABLED).count() == 1
    admin_client.post(f"/helpdesk/services/{service.pk}/enable")
    again = browser.get("/cas/login", {"service": SERVICE_URL})
    assert "ticket=ST-" in again["Location"]
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.REGISTRY_ENABLED).count() == 1
    history = page_text(admin_client.get(f"/helpdesk/services/{service.pk}/"))
    assert "Registre : service désactivé" in history and "Registre : service activé" in history
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.CAS_TICKET_ISSUED).exists()
    assert "CAS : connexion à un service" not in history  # students' sign-ins are not shown

    # Deleted, after the confirmation page: tickets gone, no new ticket.
    confirm = admin_client.get(f"/helpdesk/services/{service.pk}/delete")
    assert "Supprimer définitivement" in page_text(confirm)
    assert Service.objects.filter(pk=service.pk).exists()  # GET never deletes
    response = admin_client.post(f"/helpdesk/services/{service.pk}/delete")
    assert response.status_code == 302 and response["Location"] == "/helpdesk/services/"
    assert not Service.objects.filter(pk=service.pk).exists() and not CasTicket.objects.exists()
    assert "ticket=" not in browser.get("/cas/login", {"service": SERVICE_URL}).get("Location", "")
    deleted = AuditEvent.objects.get(kind=AuditEvent.Kind.REGISTRY_DELETED)
    assert deleted.data["service"] == "moodle-test"


def test_edit_records_what_changed(admin_client: Client) -> None:
    admin_client.post("/helpdesk/services/new", CAS_FORM)
    service = Service.objects.get(slug="moodle-test")
    page = page_text(admin_client.get(f"/helpdesk/services/{service.pk}/"))
    assert "Service Moodle test" in page and "Registre : service ajouté" in page
    changed = {**CAS_FORM, "attributes": ["uid"], "order": "5"}
    response = admin_client.post(f"/helpdesk/services/{service.pk}/", changed)
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.attributes == ["uid"] and service.order == 5
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.REGISTRY_UPDATED)
    assert event.data["changed"] == ["attributes", "order"]


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        (".*", "n'importe quel site"),
        ("https?://.*", "n'importe quel site"),
        (r"https://app.example.org/.*", "point non échappé"),
        (r"http://app\.example\.org/.*", "https://"),
        (r"https://app\.example\.org/.*|.*", "n'importe quel site"),
        (r"https://app\.example\.org:.*", "port"),
        (r"https://app\.example\.org@evil\.example/.*", "nom d'hôte valide"),
        ("(", "Expression régulière invalide"),
        ("", "Indiquez le motif"),
    ],
)
def test_opening_patterns_refused(admin_client: Client, pattern: str, words: str) -> None:
    response = admin_client.post(
        "/helpdesk/services/new", {**CAS_FORM, "cas_service_pattern": pattern}
    )
    assert response.status_code == 200
    text = page_text(response)
    assert "Le formulaire contient des erreurs" in text and words in text, text
    assert 'aria-invalid="true"' in response.content.decode()
    assert not Service.objects.exists()


def test_pattern_hosts() -> None:
    assert pattern_hosts(r"https://app\.example\.org/.*") == ["https://app.example.org"]
    demo = r"(?:https://moodle\.univ-perp\.fr|http://(?:127\.0\.0\.1|localhost)(?::[0-9]{1,5})?)/.*"
    assert pattern_hosts(demo) == [
        "http://127.0.0.1",
        "http://localhost",
        "https://moodle.univ-perp.fr",
    ]
    assert pattern_hosts(r"^https://(www\.)?a\.fr/x$") == ["https://a.fr", "https://www.a.fr"]
    many = "|".join(rf"https://host{i}\.univ-perp\.fr" for i in range(12))
    assert len(pattern_hosts(f"(?:{many})/.*")) == 12
    assert pattern_hosts(r"https://a\.fr:(?:443|8443)/x") == ["https://a.fr"]
    with pytest.raises(ValidationError, match="trop complexe"):
        pattern_hosts("https://" + "(?:ab)?" * 16 + r"\.fr/")
    for opening in (".*", "https?://.*", r"https://[a-z]+\.fr/", r"https://a\.fr.*", "x" * 10):
        with pytest.raises(ValidationError):
            pattern_hosts(opening)


def test_demo_services_pass_the_rules(settings: Any) -> None:
    from ent.sso.cas_demo import register_demo_cas_services
    from ent.sso.oidc import register_demo_oidc_client
    from ent.sso.registry import service_validate

    register_demo_cas_services()
    register_demo_oidc_client()
    for service in Service.objects.all():
        service_validate(service)


def test_slug_unique_and_urls_checked(admin_client: Client) -> None:
    admin_client.post("/helpdesk/services/new", CAS_FORM)
    response = admin_client.post(
        "/helpdesk/services/new",
        {**CAS_FORM, "logout_url": "ftp://app.example.org/slo", "home_url": "javascript:alert(1)"},
    )
    text = page_text(response)
    assert "Ce nom court est déjà pris" in text
    assert Service.objects.count() == 1


# --- OpenID Connect -----------------------------------------------------------------------------


def test_oidc_secret_shown_once_and_works(admin_client: Client) -> None:
    response = admin_client.post("/helpdesk/services/new", OIDC_FORM)
    service = Service.objects.get(slug="bu")
    assert response["Location"] == f"/helpdesk/services/{service.pk}/secret"
    page = admin_client.get(response["Location"])
    assert "no-store" in page["Cache-Control"]
    assert "ne sera plus jamais affiché" in page_text(page)
    secret = _secret_of(page)
    assert len(secret) >= 64 and service.oidc_client_id in page.content.decode()

    application = Application.objects.get(client_id=service.oidc_client_id)
    assert application.client_secret.startswith(SECRET_PREFIX)
    assert secret not in application.client_secret and secret_matches(
        secret, application.client_secret
    )
    assert application.redirect_uris == RP_REDIRECT and application.skip_authorization
    # Authenticated at the token endpoint (the code is wrong, the client is right).
    assert _token_request(service.oidc_client_id, secret).json()["error"] == "invalid_grant"
    assert _token_request(service.oidc_client_id, secret + "x").status_code == 401

    # Never again: not on the same page, nor the entry, nor the audit log, nor the session.
    again = admin_client.get(f"/helpdesk/services/{service.pk}/secret")
    assert secret not in again.content.decode() and "n'est plus affiché" in page_text(again)
    assert secret not in admin_client.get(f"/helpdesk/services/{service.pk}/").content.decode()
    assert not any(secret in str(e.data) for e in AuditEvent.objects.all())
    assert secret not in str(dict(admin_client.session))

    # Rotation: a new secret, shown once; the old one stops working.
    response = admin_client.post(f"/helpdesk/services/{service.pk}/rotate-secret")
    assert response["Location"] == f"/helpdesk/services/{service.pk}/secret"
    new = _secret_of(admin_client.get(response["Location"]))
    assert new != secret
    assert _token_request(service.oidc_client_id, secret).status_code == 401
    assert _token_request(service.oidc_client_id, new).json()["error"] == "invalid_grant"
    rotated = AuditEvent.objects.get(kind=AuditEvent.Kind.REGISTRY_SECRET_ROTATED)
    assert rotated.data == {"service": "bu", "client_id": service.oidc_client_id}
    assert rotated.ip == "127.0.0.1"

    # Disabled: the client is refused; enabled again: accepted.
    admin_client.post(f"/helpdesk/services/{service.pk}/disable")
    assert _token_request(service.oidc_client_id, new).status_code == 401
    admin_client.post(f"/helpdesk/services/{service.pk}/enable")
    assert _token_request(service.oidc_client_id, new).json()["error"] == "invalid_grant"

    # An edit keeps the secret.
    response = admin_client.post(
        f"/helpdesk/services/{service.pk}/",
        {**OIDC_FORM, "name": "BU", "oidc_client_id": service.oidc_client_id},
    )
    assert response["Location"] == f"/helpdesk/services/{service.pk}/"
    assert _token_request(service.oidc_client_id, new).json()["error"] == "invalid_grant"

    # Deleted: the client is gone.
    admin_client.post(f"/helpdesk/services/{service.pk}/delete")
    assert not Application.objects.exists() and not OidcClient.objects.exists()
    assert _token_request(service.oidc_client_id, new).status_code == 401


@pytest.mark.parametrize(
    ("uris", "words"),
    [
        ("", "au moins une adresse"),
        ("http://rp.example.org/cb", "https:// est obligatoire"),
        ("https://rp.example.org/cb#x", "fragment"),
        ("rp.example.org/cb", "adresse complète"),
        ("https://[::1/cb", "Adresse invalide"),
        ("https://rp.example.org:99999/cb", "Adresse invalide"),
    ],
)
def test_bad_redirect_uris(admin_client: Client, uris: str, words: str) -> None:
    response = admin_client.post(
        "/helpdesk/services/new", {**OIDC_FORM, "oidc_redirect_uris": uris}
    )
    assert response.status_code == 200 and words in page_text(response)
    assert not Service.objects.exists() and not Application.objects.exists()


def test_secret_not_shown_after_a_lost_redirect(admin_client: Client, settings: Any) -> None:
    """A secret whose page was not opened right away is dropped, never shown later."""
    response = admin_client.post("/helpdesk/services/new", OIDC_FORM)
    pk = Service.objects.get().pk
    admin_client.get("/helpdesk/services/")  # elsewhere first: the pending secret is dropped
    late = admin_client.get(response["Location"])
    assert 'id="client-secret"' not in late.content.decode()
    assert "n'est plus affiché" in page_text(late)

    from ent.core import session_keys as keys

    response = admin_client.post(f"/helpdesk/services/{pk}/rotate-secret")
    session = admin_client.session
    session[keys.REGISTRY_NEW_SECRET]["at"] -= 3600  # followed an hour later
    session.save()
    assert 'id="client-secret"' not in admin_client.get(response["Location"]).content.decode()
    assert keys.REGISTRY_NEW_SECRET not in admin_client.session


def test_secret_page_in_english(admin_client: Client) -> None:
    admin_client.post("/i18n/setlang/", {"language": "en", "next": "/helpdesk/"})
    response = admin_client.post("/helpdesk/services/new", OIDC_FORM)
    page = page_text(admin_client.get(response["Location"]))
    assert "it will never be shown again" in page
    response = admin_client.post(
        "/helpdesk/services/new", {**CAS_FORM, "cas_service_pattern": ".*"}
    )
    assert "addresses of any site" in page_text(response)


def test_loopback_redirect_may_be_http(admin_client: Client) -> None:
    uris = "http://127.0.0.1:8001/callback\nhttp://localhost/cb"
    response = admin_client.post(
        "/helpdesk/services/new", {**OIDC_FORM, "oidc_redirect_uris": uris}
    )
    assert response.status_code == 302
    assert Application.objects.get().redirect_uris.split() == uris.split()


def test_switch_to_cas_removes_the_client(admin_client: Client) -> None:
    admin_client.post("/helpdesk/services/new", OIDC_FORM)
    service = Service.objects.get(slug="bu")
    response = admin_client.post(
        f"/helpdesk/services/{service.pk}/",
        {**OIDC_FORM, "protocol": "cas", "cas_service_pattern": r"https://rp\.example\.org/.*"},
    )
    assert response.status_code == 302
    service.refresh_from_db()
    assert not Application.objects.exists() and service.oidc_client_id == ""
    assert service.oidc_redirect_uris == ""
    assert admin_client.post(f"/helpdesk/services/{service.pk}/rotate-secret").status_code == 302
    assert not Application.objects.exists()


# --- Navigation, permissions, garbage ----------------------------------------------------------


def test_nav_for_administrators_only(admin_client: Client, agent_client: Client) -> None:
    assert "/helpdesk/services/" in admin_client.get("/helpdesk/").content.decode()
    assert "/helpdesk/services/" not in agent_client.get("/helpdesk/").content.decode()
    assert agent_client.post("/helpdesk/services/new", CAS_FORM).status_code == 403
    assert not Service.objects.exists()


def test_unknown_action_or_service(admin_client: Client) -> None:
    admin_client.post("/helpdesk/services/new", CAS_FORM)
    service = Service.objects.get()
    assert admin_client.post(f"/helpdesk/services/{service.pk}/explode").status_code == 404
    assert admin_client.get("/helpdesk/services/999/").status_code == 404
    assert admin_client.post("/helpdesk/services/999/delete").status_code == 404


garbage = st.text(max_size=200) | st.sampled_from(
    ["", "\x00", ".*", "(", "https://[::1", "http://x:99999/", "<script>", "x" * 3000, "-1", "1e9"]
)
FIELDS = [
    "name",
    "slug",
    "description",
    "icon",
    "home_url",
    "order",
    "protocol",
    "logout_url",
    "cas_service_pattern",
    "cas_proxy_callback_pattern",
    "oidc_client_id",
    "oidc_redirect_uris",
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(garbage, min_size=len(FIELDS), max_size=len(FIELDS)),
    protocol=st.sampled_from(["cas", "oidc", "x", ""]),
    attributes=st.lists(st.sampled_from(["uid", "mail", "nope", "\x00"]), max_size=3),
)
def test_registry_form_never_500(
    admin_client: Client, values: list[str], protocol: str, attributes: list[str]
) -> None:
    data: dict[str, Any] = dict(zip(FIELDS, values, strict=True))
    data["protocol"] = protocol
    data["attributes"] = attributes
    response = admin_client.post("/helpdesk/services/new", data)
    assert response.status_code < 500, data
    # And on a real entry's edit page.
    service = Service.objects.filter(slug="moodle-test").first()
    if service is None:
        admin_client.post("/helpdesk/services/new", CAS_FORM)
        service = Service.objects.get(slug="moodle-test")
    response = admin_client.post(f"/helpdesk/services/{service.pk}/", data)
    assert response.status_code < 500, data


def test_english_name_and_description_held_by_the_registry(
    admin_client: Client, active_student: Any
) -> None:
    """The registry form takes the tile's words in English too; the portal shows them in the
    English interface (an update is audited by field name)."""
    form = {**CAS_FORM, "name_en": "Moodle (test)", "description_en": "Online courses"}
    assert admin_client.post("/helpdesk/services/new", form).status_code == 302
    service = Service.objects.get(slug="moodle-test")
    assert (service.name_en, service.description_en) == ("Moodle (test)", "Online courses")
    page = page_text(admin_client.get(f"/helpdesk/services/{service.pk}/"))
    assert "Nom en anglais" in page and "Description en anglais" in page
    response = admin_client.post(
        f"/helpdesk/services/{service.pk}/", {**form, "description_en": "Your online courses"}
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.REGISTRY_UPDATED)
    assert "description_en" in str(event.data)
    browser = signed_in(active_student)
    browser.cookies["ent_language"] = "en"
    home = page_text(browser.get("/"))
    assert "Moodle (test)" in home and "Your online courses" in home
