"""The activation journey: identify, details, mail, confirm."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client

from ent.accounts import activation
from ent.accounts.models import Account
from ent.core import clock
from ent.core.codes import CodeStatus
from ent.core.models import AuditEvent, OneTimeCode
from tests.conftest import GOOD_PASSWORD, page_text

pytestmark = pytest.mark.django_db

CODE_RE = re.compile(r"/activation/confirm\?code=([A-Z0-9]{20})")


def identify(client: Client, number: str, ine: str) -> Any:
    return client.post("/activation/", {"student_number": number, "ine": ine})


def fill_details(client: Client, email: str = "blaise.pascal@example.org", **extra: Any) -> Any:
    data = {"email": email, "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD, "charter": "on"}
    data.update(extra)
    return client.post("/activation/details/", data)


def last_code() -> str:
    match = CODE_RE.search(mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def activate(client: Client, student: Any, email: str = "blaise.pascal@example.org") -> str:
    assert identify(client, student.student_number, student.ine).status_code == 302
    assert fill_details(client, email).status_code == 302
    return last_code()


def test_success_journey(client: Client, make_student: Any, settings: Any) -> None:
    student = make_student()
    response = identify(client, student.student_number, student.ine.lower())
    assert response["Location"] == "/activation/details/"
    response = client.get("/activation/details/")
    assert "Bonjour Blaise Pascal" in page_text(response)
    response = fill_details(client)
    assert response["Location"] == "/activation/sent/"
    page = page_text(client.get("/activation/sent/"))
    assert "bl…l@example.org" in page and "blaise.pascal@example.org" not in page

    account = Account.objects.get(student=student)
    assert account.state == Account.State.PENDING
    assert account.charter_version == settings.CHARTER_VERSION and account.charter_accepted_at
    code = last_code()
    # The code is stored only as a hash.
    assert not OneTimeCode.objects.filter(code_hash=code).exists()
    assert OneTimeCode.objects.get(account=account).code_hash != code

    # GET changes nothing (mail scanners prefetch links).
    link = client.get(f"/activation/confirm?code={code}")
    # The code leaves the URL at once; the redirect itself sends no referrer.
    assert link.status_code == 302 and link["Location"] == "/activation/confirm"
    assert link["Referrer-Policy"] == "no-referrer"
    page = client.get(link["Location"])
    assert page.status_code == 200 and code not in page_text(page)
    assert "Activer mon compte" in page_text(page)
    assert "no-store" in page["Cache-Control"]
    account.refresh_from_db()
    assert account.state == Account.State.PENDING

    response = client.post("/activation/confirm")  # the code is in the session
    assert response.status_code == 200 and "Votre compte est activé" in page_text(response)
    account.refresh_from_db()
    assert account.state == Account.State.ACTIVE
    assert account.personal_email_verified_at is not None
    assert account.check_password(GOOD_PASSWORD)

    # A second click says the account is already active.
    again = client.post("/activation/confirm", {"code": code})
    assert "déjà activé" in page_text(again)
    assert "déjà activé" in page_text(client.get(f"/activation/confirm?code={code}", follow=True))
    kinds = list(AuditEvent.objects.filter(student=student).values_list("kind", flat=True))
    for kind in ("activation.identify.ok", "activation.started", "activation.confirmed"):
        assert kind in kinds


def test_wrong_ine_and_unknown_number_same_message(client: Client, make_student: Any) -> None:
    student = make_student()
    wrong_ine = identify(client, student.student_number, "999999999ZZ")
    unknown = identify(client, "29999999", student.ine)
    assert wrong_ine.status_code == unknown.status_code == 200

    def message(response: Any) -> str:
        html = page_text(response)
        return re.search(r'<div class="error-summary".*?</div>', html, re.S).group(0)  # type: ignore[union-attr]

    assert message(wrong_ine) == message(unknown)
    assert "Numéro étudiant ou code INE incorrect" in message(wrong_ine)


def test_already_active_points_to_login_and_reset(client: Client, make_student: Any) -> None:
    student = make_student()
    code = activate(client, student)
    assert activation.activation_confirm(code=code, ip=None) is CodeStatus.DONE
    page = page_text(identify(Client(), student.student_number, student.ine))
    assert "déjà activé" in page and 'href="/login"' in page and 'href="/password/reset/"' in page


def test_throttle_message_tells_when(client: Client, make_student: Any) -> None:
    student = make_student()
    for _ in range(5):
        response = identify(client, student.student_number, "999999999ZZ")
    assert "Trop d'essais" in page_text(response) and "minute" in page_text(response)


def test_expired_code(client: Client, make_student: Any) -> None:
    code = activate(client, make_student())
    clock.advance(timedelta(hours=48, seconds=1))
    response = client.post("/activation/confirm", {"code": code})
    assert response.status_code == 400 and "expiré" in page_text(response)
    assert Account.objects.get().state == Account.State.PENDING


def test_code_valid_until_48_hours(client: Client, make_student: Any) -> None:
    code = activate(client, make_student())
    clock.advance(timedelta(hours=47, minutes=59))
    assert activation.activation_confirm(code=code, ip=None) is CodeStatus.DONE


def test_unknown_and_malformed_codes(client: Client, db: None) -> None:
    for code in ["", "ABC", "N4QWQ6FVIT6451ACN54P", "é" * 20, "<script>", "x" * 10_000]:
        response = client.post("/activation/confirm", {"code": code})
        assert response.status_code == 400, code
        assert "inconnu" in page_text(response)
    assert client.get("/activation/confirm").status_code == 400


def test_used_code_after_restart_and_restart_invalidates(client: Client, make_student: Any) -> None:
    student = make_student()
    first = activate(client, student, "first@example.org")
    # Start again with another address: the first link stops working.
    assert fill_details(client, "second@example.org").status_code == 302
    second = last_code()
    assert activation.activation_confirm(code=first, ip=None) is CodeStatus.REVOKED
    assert activation.activation_confirm(code=second, ip=None) is CodeStatus.DONE
    account = Account.objects.get()
    assert account.personal_email == "second@example.org"
    assert mail.outbox[-1].to == ["second@example.org"]


def test_used_code(make_student: Any, client: Client) -> None:
    code = activate(client, make_student())
    row = OneTimeCode.objects.get()
    OneTimeCode.objects.filter(pk=row.pk).update(used_at=clock.now())
    assert activation.activation_confirm(code=code, ip=None) is CodeStatus.USED


def test_resend_is_throttled_and_revokes(client: Client, make_student: Any, settings: Any) -> None:
    settings.ACTIVATION_RESEND_PER_HOUR = 2
    activate(client, make_student())
    codes = [last_code()]
    for _ in range(2):
        response = client.post("/activation/sent/")
        assert response.status_code == 302
        codes.append(last_code())
    assert len(mail.outbox) == 3
    response = client.post("/activation/sent/", follow=True)
    assert "plusieurs liens" in page_text(response)
    assert len(mail.outbox) == 3
    assert activation.activation_confirm(code=codes[0], ip=None) is CodeStatus.REVOKED
    assert activation.activation_confirm(code=codes[-1], ip=None) is CodeStatus.DONE


def test_details_need_identification(client: Client, db: None) -> None:
    response = client.get("/activation/details/")
    assert response.status_code == 302 and response["Location"] == "/activation/"


def test_details_form_errors(client: Client, make_student: Any) -> None:
    student = make_student()
    identify(client, student.student_number, student.ine)
    page = page_text(
        fill_details(client, email="not-an-address", password2="Other.Pass2026", charter="")
    )
    assert "Adresse mail invalide" in page
    assert "ne sont pas identiques" in page
    assert "accepter la charte" in page
    page = page_text(fill_details(client, password1="Pascal.2026x", password2="Pascal.2026x"))
    assert "ni votre nom" in page
    page = page_text(fill_details(client, email=f"me@{'etudiant.univ-perp.fr'}"))
    assert "adresse personnelle" in page
    assert not Account.objects.exists()


def test_email_typo_suggestion(client: Client, make_student: Any) -> None:
    student = make_student()
    identify(client, student.student_number, student.ine)
    page = page_text(fill_details(client, email="blaise@gmial.com"))
    assert "Vouliez-vous dire blaise@gmail.com" in page
    assert not mail.outbox
    response = fill_details(client, email="blaise@gmial.com", email_confirmed="on")
    assert response.status_code == 302
    assert mail.outbox[-1].to == ["blaise@gmial.com"]


@pytest.mark.django_db(transaction=True)
def test_two_confirmations_at_once_activate_once(make_student: Any, client: Client) -> None:
    code = activate(client, make_student())
    results: list[CodeStatus] = []
    barrier = threading.Barrier(4)

    def confirm() -> None:
        barrier.wait()
        try:
            results.append(activation.activation_confirm(code=code, ip=None))
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4, "a confirmation failed with an exception"
    assert results.count(CodeStatus.DONE) == 1, results
    assert set(results) <= {CodeStatus.DONE, CodeStatus.ALREADY_ACTIVE}
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.ACTIVATION_CONFIRMED).count() == 1


def test_no_secret_in_audit(make_student: Any, client: Client) -> None:
    student = make_student()
    code = activate(client, student)
    activation.activation_confirm(code=code, ip="203.0.113.5")
    dump = repr(list(AuditEvent.objects.values()))
    assert code not in dump and GOOD_PASSWORD not in dump and student.ine not in dump


def test_link_cannot_override_a_lock(client: Client, make_student: Any) -> None:
    code = activate(client, make_student())
    Account.objects.update(state=Account.State.LOCKED)
    assert activation.activation_confirm(code=code, ip=None) is CodeStatus.USED
    account = Account.objects.get()
    assert account.state == Account.State.LOCKED and account.personal_email_verified_at is None
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.ACTIVATION_CONFIRMED).exists()


@pytest.mark.django_db(transaction=True)
def test_two_submissions_at_once_make_one_account(make_student: Any) -> None:
    student = make_student()
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def submit(n: int) -> None:
        barrier.wait()
        try:
            activation.activation_start(
                student=student,
                email=f"tab{n}@example.org",
                password=GOOD_PASSWORD,
                charter_accepted=True,
                ip=None,
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Account.objects.filter(student=student).count() == 1
    open_codes = OneTimeCode.objects.filter(used_at__isnull=True, revoked_at__isnull=True)
    assert open_codes.count() == 1  # only the last submission's link works
    assert open_codes.get().email == Account.objects.get().personal_email
