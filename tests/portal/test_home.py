"""The portal: the tiles of a signed-in student, and the demo's CAS services."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cas import CASClient
from django.test import Client

from ent.sso.cas_demo import register_demo_cas_services
from ent.sso.models import Service
from tests.conftest import page_text
from tests.sso.cas_helpers import register, signed_in

pytestmark = pytest.mark.django_db


def tiles(response: Any) -> list[tuple[str, str]]:
    """(href, name) of each tile, in page order."""
    html = response.content.decode()
    return re.findall(
        r'<a class="tile" href="([^"]+)">.*?<span class="tile-name">([^<]+)</span>', html, re.S
    )


def test_signed_in_student_sees_the_tiles_in_order(active_student: Any) -> None:
    register(
        "courses",
        r"https://courses\.example\.org/.*",
        order=20,
        name="Cours",
        home_url="https://courses.example.org/",
        icon=Service.Icon.COURSES,
    )
    register(
        "mail",
        r"https://mail\.example\.org/.*",
        order=10,
        name="Messagerie",
        home_url="https://mail.example.org/",
        icon=Service.Icon.MAIL,
    )
    register("off", r"https://off\.example\.org/.*", enabled=False, name="Éteint")
    register("hidden", r"https://hidden\.example\.org/.*", show_on_portal=False, name="Caché")
    Service.objects.create(
        name="Agenda",
        slug="agenda",
        home_url="https://agenda.example.org/",
        protocol=Service.Protocol.OIDC,
        order=30,
        icon=Service.Icon.CALENDAR,
    )
    response = signed_in(active_student).get("/")
    page = page_text(response)
    assert "Bonjour Sophie Germain" in page
    assert tiles(response) == [
        ("/webmail/", "Webmail étudiant"),  # ENT's own webmail, first
        ("https://mail.example.org/", "Messagerie"),
        ("https://courses.example.org/", "Cours"),
        ("https://agenda.example.org/", "Agenda"),
    ]
    html = response.content.decode()
    assert html.count('aria-hidden="true" focusable="false"') == 4  # decorative icons
    assert 'href="/account/"' in html and "Mon profil" in page
    assert "Se déconnecter" in page


def test_anonymous_home_has_no_tiles(db: None) -> None:
    register()
    response = Client().get("/")
    assert tiles(response) == [] and "Activer mon compte" in page_text(response)


def test_with_no_registered_service_the_webmail_tile_is_there(active_student: Any) -> None:
    """The guide's "Mon espace / Webmail Etudiant" works on a fresh installation."""
    response = signed_in(active_student).get("/")
    assert tiles(response) == [("/webmail/", "Webmail étudiant")]
    assert "Aucun service n'est encore ouvert." not in page_text(response)


def test_a_registered_webmail_replaces_the_builtin_tile(active_student: Any) -> None:
    register(
        "webmail",
        r"https://webmail\.univ-perp\.fr/.*",
        name="Roundcube",
        home_url="https://webmail.univ-perp.fr/",
        icon=Service.Icon.MAIL,
    )
    assert tiles(signed_in(active_student).get("/")) == [
        ("https://webmail.univ-perp.fr/", "Roundcube")
    ]


def test_demo_services_are_registered_idempotently(settings: Any) -> None:
    settings.BASE_URL = "http://127.0.0.1:8000"
    register_demo_cas_services()
    register_demo_cas_services()
    webmail = Service.objects.get(slug="webmail")
    moodle = Service.objects.get(slug="moodle")
    assert Service.objects.count() == 2
    assert webmail.home_url == "http://127.0.0.1:8000/webmail/"
    assert webmail.matches_cas_service("http://127.0.0.1:8000/webmail/login")
    assert not webmail.matches_cas_service("http://127.0.0.1:8000/other/")
    assert not webmail.matches_cas_service("http://127.0.0.1:80000/webmail/")
    assert moodle.matches_cas_service("https://moodle.univ-perp.fr/login/index.php")
    assert moodle.matches_cas_service("http://localhost:8080/login/index.php")
    assert not moodle.matches_cas_service("https://moodle.univ-perp.fr.evil.example/")
    assert not moodle.matches_cas_service("http://moodle.univ-perp.fr/")


def tile_texts(response: Any) -> list[tuple[str, str]]:
    """(name, description) of each tile, in page order."""
    return re.findall(
        r'<span class="tile-name">([^<]+)</span>(?:<span class="tile-text">([^<]+)</span>)?',
        response.content.decode(),
    )


def test_tiles_speak_the_interface_language_with_french_fallback(
    active_student: Any, settings: Any
) -> None:
    """Tiles were French in the English interface, and the timetable tile said « (client
    OpenID Connect de démonstration) »: the registry holds both languages, no jargon."""
    from ent.sso.oidc import register_demo_oidc_client

    settings.BASE_URL = "http://127.0.0.1:8000"
    register_demo_cas_services()
    register_demo_oidc_client()
    register("library", r"https://bu\.example\.org/.*", name="Bibliothèque", order=50)
    Service.objects.filter(slug="library").update(description="Prêts et réservations.")
    client = signed_in(active_student)
    client.cookies["ent_language"] = "en"
    assert tile_texts(client.get("/")) == [
        ("Student webmail", "Your university mailbox."),
        ("Moodle", "Online courses."),
        ("Timetable", "Your timetable."),
        ("Bibliothèque", "Prêts et réservations."),  # no English held: the French words
    ]
    client.cookies["ent_language"] = "fr"
    french = tile_texts(client.get("/"))
    assert french == [
        ("Webmail étudiant", "Votre messagerie de l&#x27;université."),
        ("Moodle", "Cours en ligne."),
        ("Emploi du temps", "Votre emploi du temps."),
        ("Bibliothèque", "Prêts et réservations."),
    ]
    assert "OpenID" not in str(french) and "CAS" not in str(french)


def test_a_demo_database_of_an_earlier_version_gets_the_new_words(settings: Any) -> None:
    from ent.sso.oidc import DEMO_SLUG, register_demo_oidc_client

    register_demo_oidc_client()
    Service.objects.filter(slug=DEMO_SLUG).update(
        description="Votre emploi du temps (client OpenID Connect de démonstration).",
        name_en="",
    )
    register_demo_oidc_client()
    service = Service.objects.get(slug=DEMO_SLUG)
    assert (service.description, service.name_en) == ("Votre emploi du temps.", "Timetable")


@pytest.mark.django_db(transaction=True)
def test_tile_service_signs_in_through_cas_without_password(
    live_server: Any, active_student: Any
) -> None:
    """The demo Moodle (on the loopback) signs the student in with the ENT session alone."""
    register_demo_cas_services()
    browser = signed_in(active_student)
    service_url = "http://127.0.0.1:8080/login/index.php"
    response = browser.get("/cas/login", {"service": service_url})
    ticket = parse_qs(urlsplit(response["Location"]).query)["ticket"][0]
    client = CASClient(version=3, server_url=f"{live_server.url}/cas/", service_url=service_url)
    user, attributes, _ = client.verify_ticket(ticket)
    assert user == active_student.student_number
    assert attributes["givenName"] == "Sophie" and "supannEtuId" not in attributes
