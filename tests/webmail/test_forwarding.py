"""Courrier › Filtres › Transfert: the service (``ent.webmail.forwarding``) and its pages.

Against the real local mail store (the ``store`` fixture) and a real SMTP server
(``smtp_server``): the verified personal address is used at once, any other only after its
link; expired, used, revoked and forged links; loops; the student's own address; malformed
addresses; turning off; notifications; audit; no 500 on bad input.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ent.accounts.models import Account
from ent.core import clock
from ent.core.codes import CodeStatus
from ent.core.models import AuditEvent, OneTimeCode
from ent.directory.models import Student
from ent.webmail import forwarding
from ent.webmail.backends import Forwarding
from ent.webmail.models import PendingForwarding
from tests.accounts.selfservice import signed_in
from tests.conftest import GOOD_PASSWORD, SMTPCatcher, page_text, text_body

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sophie(new_mailbox: Any) -> Student:
    """An active student with a verified personal address and a mailbox in the store."""
    address = new_mailbox(
        personal_email="sophie@example.org", first_name="Sophie", last_name="Germain"
    )
    return Student.objects.get(institutional_email=address)


def other_student(new_mailbox: Any, first_name: str, last_name: str) -> Student:
    address = new_mailbox(
        personal_email=f"{first_name.lower()}@example.org",
        first_name=first_name,
        last_name=last_name,
    )
    return Student.objects.get(institutional_email=address)


def last_link(smtp_server: SMTPCatcher) -> str:
    """The code of the link in the last mail the SMTP server received."""
    assert smtp_server.messages, "no mail"
    return link_code(text_body(smtp_server.messages[-1]))


LINK_RE = re.compile(r"(https?://\S+)/webmail/filters/forwarding/confirm\?code=([A-Z0-9]{20})")
PAGE = "/webmail/filters/forwarding/"
CONFIRM = "/webmail/filters/forwarding/confirm"


def account_of(student: Any) -> Account:
    return Account.objects.select_related("student").get(student=student)


def link_code(body: str) -> str:
    match = LINK_RE.search(body)
    assert match, body
    return match.group(2)


def kinds(student: Any) -> list[str]:
    return list(
        AuditEvent.objects.filter(student=student, kind__startswith="webmail.")
        .order_by("at", "id")
        .values_list("kind", flat=True)
    )


def save(client: Client, address: str, keep_copy: bool = True, password: str = "") -> Any:
    data = {"address": address, "current_password": password}
    if keep_copy:
        data["keep_copy"] = "on"
    return client.post(PAGE, data)


# --- The verified personal address: at once ----------------------------------------------------


def test_page_prefilled_with_verified_personal_address(sophie: Any, store: Any) -> None:
    client = signed_in(sophie)
    response = client.get(PAGE)
    assert response.status_code == 200
    form = response.context["form"]
    assert form["address"].value() == "sophie@example.org"
    assert form["keep_copy"].value() is True
    text = page_text(response)
    assert "Désactivé : vos messages restent dans ce compte." in text
    assert "Conserver une copie des messages dans ce compte" in text
    assert "Enregistrer" in text


def test_unverified_personal_address_not_prefilled(sophie: Any, store: Any) -> None:
    Account.objects.filter(student=sophie).update(personal_email_verified_at=None)
    response = signed_in(sophie).get(PAGE)
    assert response.context["form"]["address"].value() in ("", None)


def test_verified_personal_address_used_at_once(
    sophie: Any, store: Any, smtp_server: SMTPCatcher
) -> None:
    client = signed_in(sophie)
    response = save(client, "Sophie@Example.org", keep_copy=True)
    assert response.status_code == 302 and response["Location"] == PAGE
    mailbox = sophie.institutional_email
    assert store.forwarding(mailbox) == Forwarding(address="sophie@example.org", keep_copy=True)
    text = page_text(client.get(PAGE))
    assert "Le transfert vers sophie@example.org est enregistré." in text
    assert "transférés vers sophie@example.org, une copie est conservée" in text
    assert kinds(sophie) == ["webmail.forwarding_set"]
    event = AuditEvent.objects.get(kind="webmail.forwarding_set")
    assert event.data["verified_by"] == "personal_email" and event.data["keep_copy"] is True
    assert "sophie@example.org" not in str(event.data)  # masked, like every address in the log
    notice = smtp_server.wait_for(1)[0]
    assert notice["To"] == "sophie@example.org"
    assert notice["Subject"] == "Le transfert de vos mails a été modifié"
    assert "so…e@example.org" in text_body(notice) and "avec une copie" in text_body(notice)
    assert not OneTimeCode.objects.filter(purpose=OneTimeCode.Purpose.FORWARD_VERIFY).exists()


def test_no_copy_and_filters_page(sophie: Any, store: Any) -> None:
    client = signed_in(sophie)
    save(client, "sophie@example.org", keep_copy=False)
    assert store.forwarding(sophie.institutional_email).keep_copy is False
    text = page_text(client.get("/webmail/filters/"))
    assert "Transfert" in text and "Répondeur" in text
    assert "transférés vers sophie@example.org, sans copie dans ce compte" in text


# --- Any other address: only after its link --------------------------------------------------


def test_other_address_needs_password_then_link(
    sophie: Any, store: Any, smtp_server: SMTPCatcher
) -> None:
    client = signed_in(sophie)
    mailbox = sophie.institutional_email
    missing = save(client, "sophie.g@example.net")
    assert missing.status_code == 200
    assert "Saisissez votre mot de passe" in page_text(missing)
    assert missing.context["form"]["address"].value() == "sophie.g@example.net"  # kept
    wrong = save(client, "sophie.g@example.net", password="not-it")
    assert "Mot de passe incorrect." in page_text(wrong)
    assert wrong.context["form"]["address"].value() == "sophie.g@example.net"
    assert store.forwarding(mailbox) is None and not smtp_server.messages

    sent = save(client, "sophie.g@example.net", keep_copy=False, password=GOOD_PASSWORD)
    assert sent.status_code == 302
    text = page_text(client.get(PAGE))
    assert "Un lien de confirmation a été envoyé à sophie.g@example.net" in text
    assert "En attente de confirmation : sophie.g@example.net" in text
    assert store.forwarding(mailbox) is None  # nothing changes before the link
    verify = smtp_server.wait_for(1)[0]
    assert verify["To"] == "sophie.g@example.net"
    assert verify["Subject"] == "Confirmez l'adresse de transfert de vos mails"
    body = text_body(verify)
    assert LINK_RE.search(body).group(1) == settings.BASE_URL  # type: ignore[union-attr]
    assert "Les messages ne resteront pas dans le webmail" in body
    code = link_code(body)
    row = OneTimeCode.objects.get(purpose=OneTimeCode.Purpose.FORWARD_VERIFY)
    assert code not in (row.code_hash, row.email)  # only the hash is kept
    assert PendingForwarding.objects.get(code=row).keep_copy is False

    phone = Client()  # opened in the other mailbox, signed out
    redirect = phone.get(f"{CONFIRM}?code={code}")
    assert redirect.status_code == 302 and redirect["Location"] == CONFIRM
    assert redirect["Referrer-Policy"] == "no-referrer"
    page = phone.get(CONFIRM)
    assert page.status_code == 200 and code not in page.content.decode()
    assert "transférés vers sophie.g@example.net, sans copie" in page_text(page)
    assert store.forwarding(mailbox) is None  # a GET changes nothing
    done = phone.post(CONFIRM)
    assert done.status_code == 200 and "Le transfert est confirmé" in page_text(done)
    assert store.forwarding(mailbox) == Forwarding("sophie.g@example.net", keep_copy=False)
    assert kinds(sophie) == ["webmail.forwarding_verify_sent", "webmail.forwarding_set"]
    assert AuditEvent.objects.get(kind="webmail.forwarding_set").data["verified_by"] == "link"
    notice = smtp_server.wait_for(2)[1]
    assert notice["To"] == "sophie@example.org"  # the verified personal address is told
    assert "so…g@example.net" in text_body(notice) and "sans copie" in text_body(notice)

    again = Client()
    again.get(f"{CONFIRM}?code={code}")
    used = again.post(CONFIRM)
    assert used.status_code == 400 and "n'est plus valable" in page_text(used)


def test_expired_link(sophie: Any, store: Any, smtp_server: SMTPCatcher) -> None:
    account = account_of(sophie)
    outcome = forwarding.forwarding_set(
        account=account, address="other@example.net", keep_copy=True, ip=None, store=store
    )
    assert outcome is forwarding.SetOutcome.VERIFY_SENT
    code = last_link(smtp_server)
    clock.advance(timedelta(hours=settings.FORWARD_VERIFY_HOURS, seconds=1))
    client = Client()
    client.get(f"{CONFIRM}?code={code}")
    page = client.get(CONFIRM)
    assert page.status_code == 400 and "Ce lien a expiré" in page_text(page)
    assert client.post(CONFIRM).status_code == 400
    assert store.forwarding(sophie.institutional_email) is None
    assert AuditEvent.objects.filter(
        kind="webmail.forwarding_code_rejected", data__reason="expired"
    ).exists()


def test_newer_request_revokes_the_older_link(
    sophie: Any, store: Any, smtp_server: SMTPCatcher
) -> None:
    account = account_of(sophie)
    for address in ("first@example.net", "second@example.net"):
        forwarding.forwarding_set(
            account=account, address=address, keep_copy=True, ip=None, store=store
        )
    first, second = (link_code(text_body(m)) for m in smtp_server.messages[-2:])
    assert forwarding.forwarding_verify_confirm(code=first, ip=None, store=store) is (
        CodeStatus.REVOKED
    )
    assert forwarding.forwarding_verify_confirm(code=second, ip=None, store=store) is (
        CodeStatus.DONE
    )
    assert store.forwarding(sophie.institutional_email).address == "second@example.net"


def test_setting_personal_address_revokes_a_waiting_link(
    sophie: Any, store: Any, smtp_server: SMTPCatcher
) -> None:
    account = account_of(sophie)
    forwarding.forwarding_set(
        account=account, address="other@example.net", keep_copy=True, ip=None, store=store
    )
    code = last_link(smtp_server)
    forwarding.forwarding_set(
        account=account, address="sophie@example.org", keep_copy=True, ip=None, store=store
    )
    status = forwarding.forwarding_verify_confirm(code=code, ip=None, store=store)
    assert status is CodeStatus.REVOKED
    assert store.forwarding(sophie.institutional_email).address == "sophie@example.org"


def test_forged_codes_are_refused_then_throttled(sophie: Any, store: Any) -> None:
    client = Client()
    for forged in ("AAAAAAAAAAAAAAAAAAAA", "<script>", "", "x" * 500):
        client.get(CONFIRM, {"code": forged})
        response = client.post(CONFIRM)
        assert response.status_code in (400, 429)
    statuses = set()
    for _ in range(55):  # throttle.ACTIONS["code"]: 50 unknown codes an hour per client address
        client.get(CONFIRM, {"code": "ZZZZZZZZZZZZZZZZZZZZ"})
        statuses.add(client.get(CONFIRM).status_code)
    assert 429 in statuses
    assert store.forwarding(sophie.institutional_email) is None


def test_locked_account_cannot_confirm(sophie: Any, store: Any, smtp_server: SMTPCatcher) -> None:
    account = account_of(sophie)
    forwarding.forwarding_set(
        account=account, address="other@example.net", keep_copy=True, ip=None, store=store
    )
    code = last_link(smtp_server)
    Account.objects.filter(pk=account.pk).update(state=Account.State.LOCKED)
    status = forwarding.forwarding_verify_confirm(code=code, ip=None, store=store)
    assert status is CodeStatus.INACTIVE
    assert store.forwarding(sophie.institutional_email) is None


def test_verification_links_per_hour_are_limited(sophie: Any, store: Any) -> None:
    client = signed_in(sophie)
    for n in range(settings.FORWARD_VERIFY_LINKS_PER_HOUR):
        assert save(client, f"a{n}@example.net", password=GOOD_PASSWORD).status_code == 302
    refused = save(client, "again@example.net", password=GOOD_PASSWORD)
    assert refused.status_code == 429
    assert "plusieurs liens de confirmation" in page_text(refused)
    assert refused.context["form"]["address"].value() == "again@example.net"


# --- Refused addresses ---------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["{}", "{upper}", "{plus}"])
def test_own_institutional_address_refused(
    sophie: Any, store: Any, variant: str, smtp_server: SMTPCatcher
) -> None:
    own = sophie.institutional_email
    local, domain = own.split("@")
    typed = (
        variant.format(upper=own.upper(), plus=f"{local}+ent@{domain}") if variant != "{}" else own
    )
    client = signed_in(sophie)
    response = save(client, typed, password=GOOD_PASSWORD)
    assert response.status_code == 200
    assert "C'est votre adresse de l'université" in page_text(response)
    assert response.context["form"]["address"].value() == typed  # nothing typed is lost
    assert 'aria-invalid="true"' in response.content.decode()
    assert store.forwarding(own) is None and not smtp_server.messages


def test_loop_through_another_student_refused(sophie: Any, new_mailbox: Any, store: Any) -> None:
    ada = other_student(new_mailbox, "Ada", "Lovelace")
    alan = other_student(new_mailbox, "Alan", "Turing")
    # Ada forwards to Alan, Alan to Sophie: Sophie forwarding to Ada would go round.
    store.forwarding_set(ada.institutional_email, Forwarding(alan.institutional_email, True))
    store.forwarding_set(alan.institutional_email, Forwarding(sophie.institutional_email, True))
    client = signed_in(sophie)
    response = save(client, ada.institutional_email.upper(), password=GOOD_PASSWORD)
    assert "tourneraient en boucle" in page_text(response)
    assert response.context["form"]["address"].value() == ada.institutional_email.upper()
    assert store.forwarding(sophie.institutional_email) is None
    with pytest.raises(ValidationError):
        forwarding.forwarding_address_check(
            account=account_of(sophie), address=alan.institutional_email, store=store
        )
    # A university address that forwards elsewhere is fine (after its link).
    store.forwarding_set(alan.institutional_email, Forwarding("alan@example.org", True))
    assert save(client, ada.institutional_email, password=GOOD_PASSWORD).status_code == 302


def test_loop_appearing_after_the_link_was_sent_is_refused(
    sophie: Any, new_mailbox: Any, store: Any, smtp_server: SMTPCatcher
) -> None:
    ada = other_student(new_mailbox, "Ada", "Lovelace")
    account = account_of(sophie)
    forwarding.forwarding_set(
        account=account, address=ada.institutional_email, keep_copy=True, ip=None, store=store
    )
    code = last_link(smtp_server)
    store.forwarding_set(ada.institutional_email, Forwarding(sophie.institutional_email, True))
    client = Client()
    client.get(f"{CONFIRM}?code={code}")
    refused = client.post(CONFIRM)
    assert refused.status_code == 400 and "tourneraient en boucle" in page_text(refused)
    assert store.forwarding(sophie.institutional_email) is None


@pytest.mark.parametrize(
    "typed", ["sophie", "sophie@", "@example.org", "so phie@exa mple", "a@b", "<x>@example.org"]
)
def test_malformed_address_refused_and_kept(sophie: Any, store: Any, typed: str) -> None:
    response = save(signed_in(sophie), typed, password=GOOD_PASSWORD)
    assert response.status_code == 200
    assert "Adresse mail invalide" in page_text(response)
    assert response.context["form"]["address"].value() == typed
    assert store.forwarding(sophie.institutional_email) is None


def test_typo_suggestion_then_confirmed(sophie: Any, store: Any) -> None:
    client = signed_in(sophie)
    response = save(client, "sophie@gmial.com", password=GOOD_PASSWORD)
    assert "Vouliez-vous dire sophie@gmail.com ?" in page_text(response)
    assert "Mon adresse est correcte" in page_text(response)
    confirmed = client.post(
        PAGE,
        {
            "address": "sophie@gmial.com",
            "address_confirmed": "on",
            "keep_copy": "on",
            "current_password": GOOD_PASSWORD,
        },
    )
    assert confirmed.status_code == 302


# --- Turning off, notifications ----------------------------------------------------------


def test_turn_off_tells_personal_and_old_forwarding_address(
    sophie: Any, store: Any, smtp_server: SMTPCatcher
) -> None:
    mailbox = sophie.institutional_email
    store.forwarding_set(mailbox, Forwarding("old@example.net", True))
    client = signed_in(sophie)
    assert "transférés vers old@example.net" in page_text(client.get(PAGE))
    assert client.get("/webmail/filters/forwarding/remove").status_code == 405
    response = client.post("/webmail/filters/forwarding/remove")
    assert response.status_code == 302
    assert store.forwarding(mailbox) is None
    assert "Le transfert est arrêté" in page_text(client.get(PAGE))
    assert kinds(sophie) == ["webmail.forwarding_removed"]
    notices = smtp_server.wait_for(2)
    assert sorted(m["To"] for m in notices) == ["old@example.net", "sophie@example.org"]
    assert all(m["Subject"] == "Le transfert de vos mails a été arrêté" for m in notices)


def test_change_to_personal_tells_the_old_forwarding_address(
    sophie: Any, store: Any, smtp_server: SMTPCatcher
) -> None:
    store.forwarding_set(sophie.institutional_email, Forwarding("old@example.net", False))
    save(signed_in(sophie), "sophie@example.org")
    notices = smtp_server.wait_for(2)
    assert sorted(m["To"] for m in notices) == ["old@example.net", "sophie@example.org"]
    assert AuditEvent.objects.get(kind="webmail.forwarding_set").data["previous"] == (
        "ol…d@example.net"
    )


def test_remove_cancels_a_waiting_rule(sophie: Any, store: Any, smtp_server: SMTPCatcher) -> None:
    account = account_of(sophie)
    forwarding.forwarding_set(
        account=account, address="other@example.net", keep_copy=True, ip=None, store=store
    )
    code = last_link(smtp_server)
    client = signed_in(sophie)
    assert "Annuler la demande" in page_text(client.get(PAGE))
    client.post("/webmail/filters/forwarding/remove")
    assert forwarding.forwarding_verify_confirm(code=code, ip=None, store=store) is (
        CodeStatus.REVOKED
    )


# --- Who may use the pages, bad input ------------------------------------------------------


def test_sign_in_required_and_staff_refused(client: Client, make_staff: Any) -> None:
    for path in ("/webmail/filters/", PAGE, "/webmail/filters/vacation/"):
        assert client.get(path)["Location"].startswith("/login")
    staff = make_staff("agent")
    client.force_login(staff)
    assert client.get(PAGE).status_code == 403


@hsettings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(
        st.text(max_size=300) | st.sampled_from(["", "a@b", "x" * 5000, "é@é.fr", "\x00"]),
        min_size=3,
        max_size=3,
    ),
    keep=st.booleans(),
)
def test_forwarding_form_never_500(sophie: Any, store: Any, values: list[str], keep: bool) -> None:
    client = Client()
    client.force_login(account_of(sophie))
    data = dict(zip(["address", "current_password", "address_confirmed"], values, strict=True))
    if keep:
        data["keep_copy"] = "on"
    assert client.post(PAGE, data).status_code < 500
    assert client.get(CONFIRM, {"code": values[0]}).status_code < 500
    assert client.post(CONFIRM, {"code": values[1]}).status_code < 500


# --- Répondeur, help desk ---------------------------------------------------------------


def test_vacation_set_and_removed(sophie: Any, store: Any) -> None:
    client = signed_in(sophie)
    until = (clock.now() + timedelta(days=10)).date()
    response = client.post(
        "/webmail/filters/vacation/",
        {
            "subject": "Absente\r\nBcc: x@evil.example",
            "body": "De retour lundi.",
            "until": until.isoformat(),
        },
    )
    assert response.status_code == 302
    reply = store.vacation(sophie.institutional_email)
    assert reply.subject == "Absente Bcc: x@evil.example" and reply.body == "De retour lundi."
    assert reply.until is not None and reply.until.date() == until
    assert "Activé jusqu'au" in page_text(client.get("/webmail/filters/"))
    past = client.post(
        "/webmail/filters/vacation/",
        {"subject": "x", "body": "y", "until": "2001-01-01"},
    )
    assert past.status_code == 400 and "déjà passée" in page_text(past)
    client.post("/webmail/filters/vacation/remove")
    assert store.vacation(sophie.institutional_email) is None
    assert kinds(sophie) == ["webmail.vacation_set", "webmail.vacation_removed"]


def test_helpdesk_student_page_shows_forwarding(
    sophie: Any, store: Any, agent_client: Client
) -> None:
    url = f"/helpdesk/students/{sophie.pk}/"
    page = agent_client.get(url)
    assert "Transfert des mails" in page_text(page) and "désactivé" in page_text(page)
    store.forwarding_set(sophie.institutional_email, Forwarding("x@example.net", True))
    page = agent_client.get(url)
    assert "activé vers x@example.net, copie conservée" in page_text(page)
