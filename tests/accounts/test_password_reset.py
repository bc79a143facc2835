"""The forgotten-password pages: no enumeration, the link pattern, sessions, headers."""

from __future__ import annotations

import re
import statistics
import time
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from ent.accounts import password_reset
from ent.accounts.models import Account
from ent.core import clock
from ent.core.mail import mail_queue_run
from tests.accounts.selfservice import NEW_PASSWORD, code_in, is_signed_in, outbox, signed_in
from tests.conftest import GOOD_PASSWORD, SMTPCatcher, page_text, start_activation, text_body

pytestmark = pytest.mark.django_db

CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def ask(client: Client, identifier: str) -> Any:
    return client.post("/password/reset/", {"identifier": identifier})


def _without_csrf(response: Any) -> str:
    return CSRF_RE.sub("", response.content.decode())


def test_form_page(client: Client, db: None) -> None:
    response = client.get("/password/reset/")
    assert response.status_code == 200
    text = page_text(response)
    assert "Numéro étudiant ou adresse de l'université" in text
    assert 'href="/update-request/"' in response.content.decode()
    assert "no-store" in response["Cache-Control"]


def test_empty_identifier_is_a_form_error(client: Client, db: None) -> None:
    response = ask(client, "   ")
    assert response.status_code == 200
    assert "Ce champ est obligatoire" in page_text(response)


def test_same_answer_for_every_kind_of_account(
    client: Client, make_student: Any, make_active_student: Any
) -> None:
    active = make_active_student(email="active@example.org")
    locked = make_active_student(email="locked@example.org")
    Account.objects.filter(student=locked).update(state=Account.State.LOCKED)
    disabled = make_active_student(email="disabled@example.org")
    Account.objects.filter(student=disabled).update(state=Account.State.DISABLED)
    unverified = make_active_student(email="unverified@example.org")
    Account.objects.filter(student=unverified).update(personal_email_verified_at=None)
    pending = make_student()
    start_activation(pending, "pending@example.org")
    never = make_student()
    identifiers = {
        "active": active.student_number,
        "locked": locked.student_number,
        "disabled": disabled.student_number,
        "unverified": unverified.student_number,
        "pending": pending.student_number,
        "not activated": never.student_number,
        "unknown": "29999999",
        "unknown address": "nobody@etudiant.univ-perp.fr",
        "active address": active.institutional_email,
    }
    before = len(outbox())
    bodies = {}
    for label, identifier in identifiers.items():
        response = ask(Client(), identifier)
        assert response.status_code == 200, label
        assert "Consultez votre messagerie personnelle" in page_text(response)
        bodies[label] = _without_csrf(response)
    assert len(set(bodies.values())) == 1, {k: len(v) for k, v in bodies.items()}
    sent = outbox()[before:]
    assert sorted(m.to[0] for m in sent) == ["active@example.org", "active@example.org"]


@pytest.mark.mail_queue_manual
def test_same_time_for_known_and_unknown(
    make_active_student: Any,
    settings: Any,
    request: pytest.FixtureRequest,
) -> None:
    """Median response times within a small tolerance (the mail is only queued; the worker
    sends it later, between samples here)."""
    settings.PASSWORD_RESET_LINKS_PER_HOUR = 100
    settings.PASSWORD_RESET_PER_HOUR = 50
    settings.PASSWORD_RESET_IP_PER_HOUR = 1000
    known = make_active_student(email="timing@example.org")
    locked = make_active_student(email="locked@example.org")
    Account.objects.filter(student=locked).update(state=Account.State.LOCKED)
    # The real SMTP server only now: the accounts above were activated through the outbox.
    smtp_server: SMTPCatcher = request.getfixturevalue("smtp_server")
    client = Client()
    client.get("/password/reset/")  # warm up templates and the connection

    def timed(identifier: str) -> float:
        start = time.perf_counter()
        response = ask(client, identifier)
        elapsed = time.perf_counter() - start
        assert response.status_code == 200
        mail_queue_run()  # the worker's part, outside the measured time
        return elapsed

    # Each identifier is asked for repeatedly, so every branch updates its throttling row
    # (a first request would create it, whatever the account).
    identifiers = {
        "known": known.student_number,
        "unknown": "28880000",
        "locked": locked.student_number,
    }
    samples: dict[str, list[float]] = {k: [] for k in identifiers}
    for _ in range(15):
        for label, identifier in identifiers.items():
            samples[label].append(timed(identifier))
    # Other processes on the machine only ever add time: the fastest of each series shows the
    # cost of the request itself; the medians must agree too, more loosely.
    fastest = {k: min(v[1:]) for k, v in samples.items()}
    medians = {k: statistics.median(v[1:]) for k, v in samples.items()}
    # Sending in the request would add the SMTP conversation (about the cost of the whole
    # request here) to "known" alone; without the floor an INSERT and a thread still showed.
    assert max(fastest.values()) - min(fastest.values()) < 0.003, fastest
    assert max(medians.values()) - min(medians.values()) < 0.015, medians
    assert min(fastest.values()) >= password_reset.REQUEST_MIN_SECONDS
    assert len(smtp_server.wait_for(15)) == 15  # every link really left


def test_throttled_request_never_locks_the_account(
    client: Client, active_student: Any, settings: Any
) -> None:
    settings.PASSWORD_RESET_PER_HOUR = 2
    for _ in range(2):
        assert ask(client, active_student.student_number).status_code == 200
    response = ask(client, active_student.student_number)
    assert response.status_code == 429
    assert "Vous pourrez réessayer dans" in page_text(response)
    # Same for an unknown identifier.
    for _ in range(2):
        ask(client, "27777777")
    assert ask(client, "27777777").status_code == 429
    # Signing in still works, and asking again works an hour later.
    assert is_signed_in(signed_in(active_student))
    clock.advance(timedelta(hours=1, seconds=1))
    assert ask(client, active_student.student_number).status_code == 200


def _follow_link(client: Client, code: str) -> Any:
    response = client.get(f"/password/reset/confirm?code={code}")
    assert response.status_code == 302
    assert response["Location"] == "/password/reset/confirm"
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    return client.get("/password/reset/confirm")


def test_link_form_and_success(active_student: Any, smtp_server: SMTPCatcher) -> None:
    phone = signed_in(active_student)
    browser = Client()
    ask(browser, active_student.student_number)
    code = code_in(text_body(smtp_server.wait_for(1)[0]))
    page = _follow_link(browser, code)
    assert page.status_code == 200
    assert code not in page.content.decode()
    # The page holding the form keeps a same-origin referrer (a no-referrer page would make
    # chromium send Origin: null, which the CSRF check refuses).
    assert page["Referrer-Policy"] == "same-origin"
    assert "no-store" in page["Cache-Control"]
    text = page_text(page)
    assert "Choisir un nouveau mot de passe" in text and "Sophie Germain" in text
    assert 'id="password-checklist"' in page.content.decode()

    mismatch = browser.post(
        "/password/reset/confirm", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"}
    )
    assert "Les deux mots de passe ne sont pas identiques" in page_text(mismatch)
    same = browser.post(
        "/password/reset/confirm", {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    )
    assert "différent de votre mot de passe actuel" in page_text(same)

    done = browser.post(
        "/password/reset/confirm", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert done.status_code == 200
    assert "Votre mot de passe a été modifié" in page_text(done)
    assert done["Referrer-Policy"] == "no-referrer"
    assert not done.context["user"].is_authenticated  # no automatic login
    assert not is_signed_in(phone)
    notice = smtp_server.wait_for(2)[1]
    assert notice["Subject"] == "Votre mot de passe a été modifié"
    assert NEW_PASSWORD not in text_body(notice)
    # The new password works; the old one no longer does.
    assert is_signed_in(signed_in(active_student, NEW_PASSWORD))
    assert (
        Client()
        .post("/login", {"identifier": active_student.student_number, "password": GOOD_PASSWORD})
        .status_code
        != 302
    )
    # The link is used up.
    again = _follow_link(Client(), code)
    assert again.status_code == 400 and "Ce lien n'est plus valable" in page_text(again)


def test_reset_while_signed_in_in_the_same_browser(active_student: Any) -> None:
    browser = signed_in(active_student)
    ask(browser, active_student.student_number)
    code = code_in(outbox()[-1].body)
    _follow_link(browser, code)
    done = browser.post(
        "/password/reset/confirm", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert done.status_code == 200
    assert not is_signed_in(browser)


@pytest.mark.parametrize("case", ["expired", "unknown", "missing", "revoked"])
def test_bad_links(case: str, client: Client, active_student: Any) -> None:
    ask(client, active_student.student_number)
    code = code_in(outbox()[-1].body)
    if case == "expired":
        clock.advance(timedelta(minutes=61))
    elif case == "unknown":
        code = "Z" * 20
    elif case == "revoked":
        ask(client, active_student.student_number)
    if case == "missing":
        response = client.get("/password/reset/confirm")
    else:
        response = _follow_link(client, code)
    assert response.status_code == 400
    expected = {
        "expired": "Ce lien a expiré",
        "unknown": "Lien inconnu",
        "missing": "Lien inconnu",
        "revoked": "Ce lien n'est plus valable",
    }[case]
    assert expected in page_text(response)
    post = client.post(
        "/password/reset/confirm", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert post.status_code == 400
    assert Account.objects.get(student=active_student).check_password(GOOD_PASSWORD)


def test_locked_after_the_link_was_sent(client: Client, active_student: Any) -> None:
    ask(client, active_student.student_number)
    code = code_in(outbox()[-1].body)
    Account.objects.filter(student=active_student).update(state=Account.State.LOCKED)
    response = _follow_link(client, code)
    assert response.status_code == 400
    assert "Ce compte n'est pas actif" in page_text(response)


def test_reset_lifts_the_login_delay(client: Client, active_student: Any, settings: Any) -> None:
    """A student who mistyped the password until blocked resets it and gets in at once."""
    for _ in range(settings.THROTTLE_FREE_FAILURES):
        Client().post(
            "/login", {"identifier": active_student.student_number, "password": "Oublie.2026"}
        )
    blocked = Client().post(
        "/login", {"identifier": active_student.student_number, "password": GOOD_PASSWORD}
    )
    assert blocked.status_code != 302 and "Vous pourrez réessayer" in page_text(blocked)
    ask(client, active_student.student_number)
    _follow_link(client, code_in(outbox()[-1].body))
    client.post("/password/reset/confirm", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert is_signed_in(signed_in(active_student, NEW_PASSWORD))


def test_link_page_guesses_are_throttled(client: Client, active_student: Any) -> None:
    """Opening the link page tells whether a code exists: guesses there are throttled per
    client address like the form (50 unknown codes, then "Trop de tentatives", 429)."""
    for n in range(50):
        client.get("/password/reset/confirm", {"code": f"{n:020d}"})
        assert client.get("/password/reset/confirm").status_code == 400
    password_reset.password_reset_send(account=active_student.account, actor=None, ip=None)
    code = code_in(outbox()[-1].body)
    client.get("/password/reset/confirm", {"code": code})
    response = client.get("/password/reset/confirm")
    assert response.status_code == 429
    assert "Trop de tentatives" in page_text(response)
    # Another client address is not affected.
    other = Client(REMOTE_ADDR="192.0.2.55")
    other.get("/password/reset/confirm", {"code": code})
    assert other.get("/password/reset/confirm").status_code == 200


def test_staff_accounts_get_no_reset_link(client: Client, make_staff: Any) -> None:
    """The student reset has no TOTP: a staff account with a verified address gets nothing,
    and the answer is the one an unknown identifier gets (no enumeration)."""
    staff = make_staff("agent")
    Account.objects.filter(pk=staff.pk).update(personal_email_verified_at=clock.now())
    staff.refresh_from_db()
    before = len(outbox())
    unknown = ask(client, "personne.inconnue")
    response = ask(client, staff.username)
    assert response.status_code == unknown.status_code
    assert _without_csrf(response) == _without_csrf(unknown)
    assert not password_reset.password_reset_send(account=staff, actor=None, ip=None)
    assert len(outbox()) == before


@pytest.mark.parametrize("path", ["/account/", "/account/password/", "/account/email/"])
def test_staff_session_cannot_use_student_self_service(agent_client: Client, path: str) -> None:
    """As a student gets 403 at the help desk, a staff session gets 403 on the student pages."""
    assert agent_client.get(path).status_code == 403
    assert agent_client.post(path, {"email": "x@example.org"}).status_code == 403
