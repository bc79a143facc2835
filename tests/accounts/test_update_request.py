"""Update requests ("Faire une demande de mise à jour"): the form, the reference, the mails,
and the help-desk lifecycle (take, approve, reject) with its effects and audit records."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from ent.accounts import update_request as ur
from ent.accounts.models import Account, UpdateRequest
from ent.core.models import AuditEvent
from tests.conftest import GOOD_PASSWORD, SMTPCatcher, page_text, text_body

pytestmark = pytest.mark.django_db

REFERENCE_RE = re.compile(r"MAJ-\d{4}-[A-Z2-9]{6}")


def anonymous_post(client: Client, student: Any, **fields: str) -> Any:
    data = {
        "student_number": student.student_number,
        "ine": student.ine,
        "kind": "other",
        "message": "Mon programme n'est pas le bon.",
        "contact_email": "joignable@example.org",
        **fields,
    }
    return client.post("/update-request/", data)


def test_page_shows_the_form(client: Client) -> None:
    response = client.get("/update-request/")
    assert response.status_code == 200
    text = page_text(response)
    assert "Faire une demande de mise à jour" in text
    for name in ("student_number", "ine", "kind", "message", "new_email", "contact_email"):
        assert f'name="{name}"' in text
    assert 'type="file"' not in text  # no attachments


def test_anonymous_request_gets_reference_and_acknowledgement(
    client: Client, make_student: Any, smtp_server: SMTPCatcher
) -> None:
    student = make_student(first_name="Ada", last_name="Lovelace")
    response = anonymous_post(client, student, kind="lost_email", new_email="ada.new@example.org")
    assert response.status_code == 302 and response["Location"] == "/update-request/sent/"
    request = UpdateRequest.objects.get(student=student)
    assert REFERENCE_RE.fullmatch(request.reference)
    assert request.kind == UpdateRequest.Kind.LOST_EMAIL
    assert request.status == UpdateRequest.Status.NEW
    assert request.contact_email == "ada.new@example.org" and not request.contact_verified

    page = page_text(client.get("/update-request/sent/"))
    assert request.reference in page
    assert "ada.new@example.org" not in page  # masked

    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "ada.new@example.org"
    assert request.reference in message["Subject"]
    body = text_body(message)
    assert "Bonjour Ada Lovelace" in body and request.reference in body
    assert "n'a pas été vérifiée" in body
    assert AuditEvent.objects.filter(
        kind=AuditEvent.Kind.UPDATE_REQUEST_CREATED, student=student
    ).exists()


def test_unknown_number_and_wrong_ine_answer_the_same(client: Client, make_student: Any) -> None:
    student = make_student()
    wrong_ine = page_text(anonymous_post(client, student, ine="999999999ZZ"))
    unknown = page_text(
        client.post(
            "/update-request/",
            {
                "student_number": "99999999",
                "ine": student.ine,
                "kind": "other",
                "message": "x",
                "contact_email": "a@example.org",
            },
        )
    )

    def error(text: str) -> str:
        return re.search(r'<div class="error-summary".*?</div>', text, re.S).group(0)  # type: ignore[union-attr]

    assert "Numéro étudiant ou code INE incorrect" in error(wrong_ine)
    assert error(wrong_ine) == error(unknown)
    assert not UpdateRequest.objects.exists()
    assert mail.outbox == []


def test_identification_is_throttled(client: Client, make_student: Any, settings: Any) -> None:
    student = make_student()
    for _ in range(settings.THROTTLE_FREE_FAILURES):
        anonymous_post(client, student, ine="999999999ZZ")
    response = anonymous_post(client, student)  # even the right INE waits now
    assert "Trop d'essais infructueux" in page_text(response)
    assert not UpdateRequest.objects.exists()


def test_values_required_by_kind(client: Client, make_student: Any) -> None:
    student = make_student()
    text = page_text(anonymous_post(client, student, kind="birth_date"))
    assert "Indiquez la valeur exacte" in text
    text = page_text(anonymous_post(client, student, kind="name"))
    assert "Indiquez le nom ou le prénom corrigé" in text
    text = page_text(
        anonymous_post(client, student, kind="lost_email", new_email="x@etudiant.univ-perp.fr")
    )
    assert "pas votre adresse de l'université" in text
    text = page_text(anonymous_post(client, student, kind="other", contact_email=""))
    assert "où l'assistance pourra vous répondre" in text
    text = page_text(anonymous_post(client, student, message="x" * 2001))
    assert "2000" in text
    assert not UpdateRequest.objects.exists()


def test_birth_date_in_three_labelled_boxes(client: Client, make_student: Any) -> None:
    """The date field said jj/mm/aaaa while an English chromium's date input shows mm/dd/yyyy:
    three boxes Jour / Mois / Année say it in the page's language in every browser."""
    html = client.get("/update-request/").content.decode()
    assert 'type="date"' not in html and "jj/mm/aaaa" not in html
    for part, label in (("day", "Jour"), ("month", "Mois"), ("year", "Année")):
        assert f'<label for="id_new_birth_date_{part}">{label}</label>' in html
        assert f'name="new_birth_date_{part}"' in html
    assert re.search(r"<legend[^>]*>Date de naissance exacte", html)
    english = client.get("/update-request/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<label for="id_new_birth_date_month">Month</label>' in english
    student = make_student()
    parts = {"new_birth_date_day": "1", "new_birth_date_month": "2", "new_birth_date_year": "2003"}
    response = anonymous_post(client, student, kind="birth_date", **parts)
    assert response.status_code == 302
    assert UpdateRequest.objects.get(student=student).new_birth_date == date(2003, 2, 1)
    bad = {**parts, "new_birth_date_day": "31", "new_birth_date_month": "2"}
    refused = anonymous_post(client, student, kind="birth_date", **bad)
    text = page_text(refused)
    assert "Date invalide : indiquez le jour, le mois (1 à 12) et l'année (4 chiffres)." in text
    # What was typed comes back, and the error summary's link has a target.
    assert 'name="new_birth_date_day" value="31"' in text
    assert 'href="#id_new_birth_date"' in text and 'id="id_new_birth_date"' in text


def test_value_fields_say_which_kind_they_belong_to(client: Client, make_student: Any) -> None:
    """ent.js shows (and posts) only the fields of the chosen kind; the service keeps only the
    values of the request's kind."""
    student = make_student()
    response = anonymous_post(
        client, student, kind="ine", new_ine="111222333AB", new_email="autre@example.org"
    )
    assert response.status_code == 302
    request = UpdateRequest.objects.get(student=student)
    assert (request.new_ine, request.new_email) == ("111222333AB", "")
    html = client.get("/update-request/").content.decode()
    assert '<fieldset id="kind-values" data-kind-select="id_kind">' in html
    for name, kinds in (
        ("new_first_name", "name"),
        ("new_birth_date", "birth_date"),
        ("new_ine", "ine"),
        ("new_email", "lost_email"),
    ):
        assert re.search(
            rf'<div data-kinds="{kinds}">\s*<div class="field[^"]*">.*?{name}', html, re.S
        )


def test_signed_in_student_uses_verified_address(
    client: Client, make_active_student: Any, request: pytest.FixtureRequest
) -> None:
    student = make_active_student(email="verified@example.org")
    smtp_server: SMTPCatcher = request.getfixturevalue("smtp_server")  # after the activation
    account = Account.objects.get(student=student)
    client.force_login(account)
    page = page_text(client.get("/update-request/"))
    assert 'name="student_number"' not in page and 'name="contact_email"' not in page
    assert "ve…d@example.org" in page
    response = client.post(
        "/update-request/",
        {"kind": "name", "message": "Accent oublié", "new_first_name": "Sophié"},
    )
    assert response.status_code == 302
    made = UpdateRequest.objects.get(student=student)
    assert made.contact_email == "verified@example.org" and made.contact_verified
    assert made.new_first_name == "Sophié"
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "verified@example.org"
    assert "n'a pas été vérifiée" not in text_body(message)


def test_reference_format_and_uniqueness(make_student: Any) -> None:
    refs = {
        ur.update_request_create(
            student=make_student(),
            kind=UpdateRequest.Kind.OTHER,
            message="m",
            new=ur.NewValues(),
            contact_email="c@example.org",
            ip=None,
        ).reference
        for _ in range(20)
    }
    assert len(refs) == 20 and all(REFERENCE_RE.fullmatch(r) for r in refs)


def test_requests_per_day_are_capped(client: Client, make_student: Any) -> None:
    """Each request mails someone: three a day per student, then a message, no mail."""
    from datetime import timedelta

    from ent.core import clock

    student = make_student()
    for _ in range(ur.MAX_REQUESTS_PER_DAY):
        assert anonymous_post(client, student).status_code == 302
    sent = len(mail.outbox)
    response = anonymous_post(client, student)
    assert "plusieurs demandes aujourd'hui" in page_text(response)
    assert UpdateRequest.objects.count() == ur.MAX_REQUESTS_PER_DAY and len(mail.outbox) == sent
    clock.advance(timedelta(hours=25))
    assert anonymous_post(client, student).status_code == 302


# --- Lifecycle at the help desk -----------------------------------------------------------------


def make_request(student: Any, kind: UpdateRequest.Kind, **new: Any) -> UpdateRequest:
    return ur.update_request_create(
        student=student,
        kind=kind,
        message="Merci de corriger.",
        new=ur.NewValues(**new),
        contact_email="contact@example.org",
        ip="192.0.2.7",
    )


def test_take_then_approve_name_updates_directory(
    agent_client: Client, make_student: Any, smtp_server: SMTPCatcher
) -> None:
    student = make_student(first_name="Emilie", last_name="Du Chatelet")
    request = make_request(
        student, UpdateRequest.Kind.NAME, first_name="Émilie", last_name="Du Châtelet"
    )
    smtp_server.wait_for(1)  # acknowledgement

    response = agent_client.post(f"/helpdesk/requests/{request.pk}/take")
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == UpdateRequest.Status.IN_PROGRESS
    assert request.assigned_to == agent_client.staff
    assert len(smtp_server.messages) == 1  # taking mails nobody

    response = agent_client.post(f"/helpdesk/requests/{request.pk}/approve", {"reason": "Corrigé."})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == UpdateRequest.Status.APPROVED and request.decided_at is not None
    student.refresh_from_db()
    assert (student.first_name, student.last_name) == ("Émilie", "Du Châtelet")

    messages = smtp_server.wait_for(2)
    assert messages[1]["To"] == "contact@example.org"
    assert "acceptée" in messages[1]["Subject"] and request.reference in messages[1]["Subject"]
    assert "Corrigé." in text_body(messages[1])

    kinds = list(
        AuditEvent.objects.filter(student=student).order_by("at", "id").values_list("kind", "actor")
    )
    staff_pk = agent_client.staff.pk
    assert (AuditEvent.Kind.UPDATE_REQUEST_TAKEN.value, staff_pk) in kinds
    assert (AuditEvent.Kind.DIRECTORY_CORRECTED.value, staff_pk) in kinds
    assert (AuditEvent.Kind.UPDATE_REQUEST_APPROVED.value, staff_pk) in kinds
    corrected = AuditEvent.objects.get(kind=AuditEvent.Kind.DIRECTORY_CORRECTED)
    assert corrected.data["fields"]["first_name"] == ["Emilie", "Émilie"]

    # Decided once: a second decision is refused with a message, and changes nothing.
    response = agent_client.post(
        f"/helpdesk/requests/{request.pk}/reject", {"reason": "non"}, follow=True
    )
    assert "déjà été traitée" in page_text(response)
    request.refresh_from_db()
    assert request.status == UpdateRequest.Status.APPROVED


def test_reject_needs_reason_and_mails_it(
    agent_client: Client, make_student: Any, smtp_server: SMTPCatcher
) -> None:
    student = make_student()
    request = make_request(student, UpdateRequest.Kind.BIRTH_DATE, birth_date=date(2001, 1, 1))
    response = agent_client.post(
        f"/helpdesk/requests/{request.pk}/reject", {"reason": " "}, follow=True
    )
    assert "Indiquez le motif du refus" in page_text(response)
    request.refresh_from_db()
    assert request.status == UpdateRequest.Status.NEW

    agent_client.post(f"/helpdesk/requests/{request.pk}/reject", {"reason": "Pièce manquante."})
    request.refresh_from_db()
    assert request.status == UpdateRequest.Status.REJECTED
    student.refresh_from_db()
    assert student.birth_date == date(2004, 6, 19)  # unchanged
    messages = smtp_server.wait_for(2)
    assert "refusée" in messages[1]["Subject"]
    assert "Pièce manquante." in text_body(messages[1])
    assert AuditEvent.objects.filter(
        kind=AuditEvent.Kind.UPDATE_REQUEST_REJECTED, actor=agent_client.staff
    ).exists()


def test_approve_birth_date_and_ine(agent_client: Client, make_student: Any) -> None:
    student = make_student()
    other = make_student()
    r1 = make_request(student, UpdateRequest.Kind.BIRTH_DATE, birth_date=date(2003, 2, 1))
    agent_client.post(f"/helpdesk/requests/{r1.pk}/approve")
    student.refresh_from_db()
    assert student.birth_date == date(2003, 2, 1)

    clash = make_request(student, UpdateRequest.Kind.INE, ine=other.ine)
    response = agent_client.post(f"/helpdesk/requests/{clash.pk}/approve", follow=True)
    assert "déjà celui d'un autre étudiant" in page_text(response)
    clash.refresh_from_db()
    assert clash.status == UpdateRequest.Status.NEW

    fine = make_request(student, UpdateRequest.Kind.INE, ine="111222333AB")
    agent_client.post(f"/helpdesk/requests/{fine.pk}/approve")
    student.refresh_from_db()
    assert student.ine == "111222333AB"


def test_lost_address_approved_sends_verification_link_and_student_gets_back_in(
    agent_client: Client, make_active_student: Any, request: pytest.FixtureRequest
) -> None:
    """The "done when" story: a student who lost the personal address gets back in."""
    student = make_active_student(email="lost@example.org")
    smtp_server: SMTPCatcher = request.getfixturevalue("smtp_server")  # after the activation
    account = Account.objects.get(student=student)
    anonymous = Client()
    anonymous_post(
        anonymous,
        student,
        kind="lost_email",
        new_email="found@example.org",
        message="Je n'ai plus accès à lost@example.org",
    )
    made = UpdateRequest.objects.get(student=student)
    assert made.contact_email == "found@example.org" and not made.contact_verified
    smtp_server.wait_for(2)  # the acknowledgement and the alert to the current address

    agent_client.post(f"/helpdesk/requests/{made.pk}/take")
    agent_client.post(f"/helpdesk/requests/{made.pk}/approve", {"identity_checked": "on"})
    messages = smtp_server.wait_for(5)
    to_new = [m for m in messages[2:] if m["To"] == "found@example.org"]
    assert len(to_new) == 2  # the decision and the verification link
    link = next(
        re.search(r"https?://\S+/account/email/confirm\?code=\S+", text_body(m))
        for m in to_new
        if "/account/email/confirm" in text_body(m)
    )
    assert link is not None
    account.refresh_from_db()
    assert account.personal_email == "lost@example.org"  # not before the link is followed

    from ent.accounts.email_change import email_change_confirm
    from ent.core.codes import CodeStatus

    code = link.group(0).split("code=")[1]
    assert email_change_confirm(code=code, ip=None) is CodeStatus.DONE
    account.refresh_from_db()
    assert account.personal_email == "found@example.org"
    assert account.personal_email_verified_at is not None

    # With the address back, the help desk can send a reset link there.
    agent_client.post(f"/helpdesk/students/{student.pk}/send-reset")
    messages = smtp_server.wait_for(7)
    assert messages[-1]["To"] == "found@example.org"
    assert GOOD_PASSWORD not in text_body(messages[-1])


def test_lost_address_of_pending_account_cannot_be_approved(
    agent_client: Client, make_student: Any
) -> None:
    student = make_student()
    request = make_request(student, UpdateRequest.Kind.LOST_EMAIL, email="new@example.org")
    response = agent_client.post(
        f"/helpdesk/requests/{request.pk}/approve", {"identity_checked": "on"}, follow=True
    )
    assert "n'est pas actif" in page_text(response)
    request.refresh_from_db()
    assert request.status == UpdateRequest.Status.NEW


def test_queue_filters(agent_client: Client, make_student: Any) -> None:
    student = make_student()
    name = make_request(student, UpdateRequest.Kind.NAME, last_name="Pascale")
    other = make_request(student, UpdateRequest.Kind.OTHER)
    agent_client.post(f"/helpdesk/requests/{other.pk}/reject", {"reason": "non"}, follow=True)

    page = page_text(agent_client.get("/helpdesk/requests/"))
    assert name.reference in page and other.reference not in page  # open ones by default
    page = page_text(agent_client.get("/helpdesk/requests/?status=rejected"))
    assert other.reference in page and name.reference not in page
    page = page_text(agent_client.get("/helpdesk/requests/?status=all&kind=name"))
    assert name.reference in page and other.reference not in page
    page = page_text(agent_client.get(f"/helpdesk/requests/{name.pk}/"))
    assert "Pascale" in page and "Merci de corriger." in page


def test_anonymous_request_for_verified_account_answers_the_verified_address(
    client: Client, make_active_student: Any
) -> None:
    """Someone who knows the number and INE cannot send the answers elsewhere (except for a
    lost address, where the typed address is all there is, and is marked unverified)."""
    student = make_active_student(email="real@example.org")
    before = len(mail.outbox)
    anonymous_post(client, student, kind="other", contact_email="intruder@example.org")
    made = UpdateRequest.objects.get(student=student)
    assert made.contact_email == "real@example.org" and made.contact_verified
    assert mail.outbox[before].to == ["real@example.org"]


def test_lost_address_request_alerts_the_current_verified_address(
    make_active_student: Any, agent_client: Client, request: pytest.FixtureRequest
) -> None:
    """Number + INE are not secrets: the owner of the verified address hears of a request to
    replace it when it is made and again when it is approved, before anything changes."""
    student = make_active_student(email="owner@example.org")
    smtp_server: SMTPCatcher = request.getfixturevalue("smtp_server")
    anonymous_post(
        Client(), student, kind="lost_email", new_email="thief@example.org", message="perdu"
    )
    made = UpdateRequest.objects.get(student=student)
    messages = smtp_server.wait_for(2)
    (alert,) = [m for m in messages if m["To"] == "owner@example.org"]
    body = text_body(alert)
    assert "Une demande de changement de votre adresse personnelle a été faite" in body
    assert made.reference in body and "contactez l'assistance" in body
    assert "thief@example.org" not in body

    agent_client.post(f"/helpdesk/requests/{made.pk}/approve", {"identity_checked": "on"})
    messages = smtp_server.wait_for(5)
    to_owner = [m for m in messages[2:] if m["To"] == "owner@example.org"]
    assert len(to_owner) == 1
    assert made.reference in text_body(to_owner[0])
    assert "accepté une demande de changement de votre adresse" in text_body(to_owner[0])


def test_lost_address_request_without_verified_address_alerts_nobody_else(
    client: Client, make_student: Any, smtp_server: SMTPCatcher
) -> None:
    student = make_student()
    anonymous_post(client, student, kind="lost_email", new_email="new@example.org")
    (message,) = smtp_server.wait_for(1)
    assert message["To"] == "new@example.org"
    assert len(smtp_server.wait_for(1)) == 1


def test_lost_address_approval_requires_identity_check(
    agent_client: Client, make_active_student: Any
) -> None:
    student = make_active_student(email="owner@example.org")
    made = make_request(student, UpdateRequest.Kind.LOST_EMAIL, email="new@example.org")
    page = page_text(agent_client.get(f"/helpdesk/requests/{made.pk}/"))
    assert "Vérifiez l'identité de l'étudiant avant d'accepter" in page
    assert "pièce d'identité" in page and 'name="identity_checked"' in page

    response = agent_client.post(f"/helpdesk/requests/{made.pk}/approve", {"reason": "ok"})
    assert response.status_code == 400
    assert "cochez la case" in page_text(response)
    made.refresh_from_db()
    assert made.status == UpdateRequest.Status.NEW
    with pytest.raises(ur.DecisionError):  # the service refuses too
        ur.update_request_approve(
            request=made,
            reason="",
            actor=agent_client.staff,
            ip=None,  # type: ignore[attr-defined]
        )

    agent_client.post(f"/helpdesk/requests/{made.pk}/approve", {"identity_checked": "on"})
    made.refresh_from_db()
    assert made.status == UpdateRequest.Status.APPROVED
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.UPDATE_REQUEST_APPROVED, student=student)
    assert event.data["identity_checked"] is True


def test_helpdesk_never_shows_a_full_ine(agent_client: Client, make_student: Any) -> None:
    student = make_student(ine="123456789AB")
    page = page_text(agent_client.get(f"/helpdesk/students/{student.pk}/"))
    assert "123456789AB" not in page and "•••••••89AB" in page
    made = make_request(student, UpdateRequest.Kind.INE, ine="987654321CD")
    page = page_text(agent_client.get(f"/helpdesk/requests/{made.pk}/"))
    assert "123456789AB" not in page and "987654321CD" not in page
    assert "•••••••89AB" in page and "•••••••21CD" in page
    # Searching by INE still finds the student.
    page = page_text(agent_client.get("/helpdesk/search?q=123456789AB"))
    assert f"/helpdesk/students/{student.pk}/" in page and student.student_number in page


def test_accepted_corrections_keep_the_value_before(
    agent_client: Client, make_student: Any
) -> None:
    """Once accepted, the request page and the account history show before → after (issue 13)."""
    student = make_student(
        first_name="Emilie",
        last_name="Du Chatelet",
        birth_date=date(2004, 6, 19),
        ine="123456789AB",
    )
    name = make_request(student, UpdateRequest.Kind.NAME, first_name="Émilie")
    born = make_request(student, UpdateRequest.Kind.BIRTH_DATE, birth_date=date(2003, 2, 1))
    ine = make_request(student, UpdateRequest.Kind.INE, ine="987654321CD")
    for made in (name, born, ine):
        response = agent_client.post(f"/helpdesk/requests/{made.pk}/approve", {"reason": "Vu."})
        assert response.status_code == 302
    name.refresh_from_db()
    assert (name.old_first_name, name.old_last_name) == ("Emilie", "Du Chatelet")
    assert name.old_birth_date is None and name.old_ine == ""  # only the fields of its kind

    page = page_text(agent_client.get(f"/helpdesk/requests/{name.pk}/"))
    assert "Nom avant la correction</dt><dd>Emilie Du Chatelet</dd>" in page
    assert "Nom après la correction</dt><dd>Émilie Du Chatelet</dd>" in page
    assert "Nom actuel" not in page
    page = page_text(agent_client.get(f"/helpdesk/requests/{born.pk}/"))
    assert (
        'Date avant la correction</dt><dd><time datetime="2004-06-19">19 juin 2004</time>' in page
    )
    assert (
        'Date après la correction</dt><dd><time datetime="2003-02-01">1er février 2003</time>'
        in page
    )
    page = page_text(agent_client.get(f"/helpdesk/requests/{ine.pk}/"))
    assert "INE avant la correction</dt><dd>•••••••89AB</dd>" in page
    assert "INE après la correction</dt><dd>•••••••21CD</dd>" in page
    assert "123456789AB" not in page and "987654321CD" not in page

    history = page_text(agent_client.get(f"/helpdesk/students/{student.pk}/"))
    arrow = '<span aria-hidden="true">→</span><span class="visually-hidden">devient</span>'
    assert f"<li>Prénom : Emilie {arrow} Émilie</li>" in history
    assert (
        '<li>Date de naissance : <time datetime="2004-06-19">19 juin 2004</time>'
        f' {arrow} <time datetime="2003-02-01">1er février 2003</time></li>'
    ) in history
    assert f"<li>Code INE : •••••••89AB {arrow} •••••••21CD</li>" in history
    assert "123456789AB" not in history and "987654321CD" not in history


def test_a_refused_correction_stores_no_value_before(
    agent_client: Client, make_student: Any
) -> None:
    student = make_student(first_name="Emilie")
    made = make_request(student, UpdateRequest.Kind.NAME, first_name="Émilie")
    agent_client.post(f"/helpdesk/requests/{made.pk}/reject", {"reason": "Non."})
    made.refresh_from_db()
    assert made.old_first_name == "" and made.old_last_name == ""
    page = page_text(agent_client.get(f"/helpdesk/requests/{made.pk}/"))
    assert "Nom actuel</dt><dd>Emilie Pascal</dd>" in page
