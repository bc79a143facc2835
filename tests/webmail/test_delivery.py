"""Delivery rules of the local backend (``ent.webmail.delivery``), called directly.

The receiver around it is tested in ``test_receiver.py``; the scenarios both backends share are
in ``test_store_contract.py``.
"""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ent.accounts.models import Account
from ent.webmail.backends.base import Forwarding, Vacation
from ent.webmail.backends.local import INBOX, LocalStore
from ent.webmail.delivery import DeliveryRefused, message_deliver, recipient_known
from tests.conftest import SMTPCatcher
from tests.webmail.mails import make_mail

pytestmark = pytest.mark.django_db

SENDER = "alice.martin@example.org"


@pytest.fixture
def local(settings: Any, tmp_path: Path) -> LocalStore:
    settings.MAIL_DIR = tmp_path / "mail"
    return LocalStore()


@pytest.fixture
def box(active_student: Any) -> str:
    return str(active_student.institutional_email)


def subjects(local: LocalStore, box: str) -> list[str]:
    return [m.subject for m in local.messages(box, INBOX).messages]


def test_recipient_known_only_for_an_active_student_of_the_domain(
    make_active_student: Any, make_student: Any, settings: Any
) -> None:
    active = make_active_student(email="a@example.org")
    assert recipient_known(active.institutional_email)
    assert recipient_known(active.institutional_email.upper())
    assert not recipient_known(make_student().institutional_email)  # never activated
    localpart = active.institutional_email.partition("@")[0]
    assert not recipient_known(f"{localpart}@univ-perp.fr")  # another domain
    assert not recipient_known(f"inconnu@{settings.STUDENT_MAIL_DOMAIN}")
    Account.objects.filter(student=active).update(state=Account.State.LOCKED)
    assert not recipient_known(active.institutional_email)


def test_stored_message_gets_trace_headers_and_keeps_its_bytes(local: LocalStore, box: str) -> None:
    raw = make_mail(to=box, subject="Trace")
    result = message_deliver(recipient=box, mail_from=SENDER, raw=raw, peer="mx.example.org")
    assert result.uid is not None and result.redirected_to is None
    stored = local.message(box, INBOX, result.uid)
    head, _, rest = stored.partition(b"\nDelivered-To: ")
    assert head == f"Return-Path: <{SENDER}>".encode()
    assert rest.startswith(box.encode())
    assert stored.endswith(raw.replace(b"\r\n", b"\n"))


def test_redirect_envelope_sender_is_the_institutional_address(
    local: LocalStore, box: str, smtp_server: SMTPCatcher
) -> None:
    local.forwarding_set(box, Forwarding("sophie.perso@example.org", keep_copy=False))
    message_deliver(recipient=box, mail_from=SENDER, raw=make_mail(to=box, subject="Enveloppe"))
    (forwarded,) = smtp_server.wait_for(1)
    assert smtp_server.envelopes == [(box, ["sophie.perso@example.org"])]
    assert (
        forwarded["Delivered-To"] == box
        and forwarded["From"] == "Alice Martin <alice.martin@example.org>"
    )
    assert forwarded["Return-Path"] is None


def test_a_message_that_already_passed_here_is_kept_not_redirected(
    local: LocalStore, box: str, smtp_server: SMTPCatcher
) -> None:
    local.forwarding_set(box, Forwarding("sophie.perso@example.org", keep_copy=False))
    raw = f"Delivered-To: {box}\r\n".encode() + make_mail(to=box, subject="Déjà vu")
    result = message_deliver(recipient=box, mail_from=SENDER, raw=raw)
    assert result.loop and result.redirected_to is None and result.uid is not None
    assert subjects(local, box) == ["Déjà vu"]
    assert smtp_server.messages == []


def test_too_many_redirects_stop_the_redirect(
    local: LocalStore, box: str, smtp_server: SMTPCatcher
) -> None:
    local.forwarding_set(box, Forwarding("sophie.perso@example.org", keep_copy=False))
    hops = b"".join(f"Delivered-To: autre{n}@example.org\r\n".encode() for n in range(5))
    result = message_deliver(recipient=box, mail_from=SENDER, raw=hops + make_mail(to=box))
    assert result.loop and result.uid is not None and smtp_server.messages == []


def test_too_many_hops_are_refused(local: LocalStore, box: str) -> None:
    hops = b"".join(f"Received: from relay{n}.example.org\r\n".encode() for n in range(51))
    with pytest.raises(DeliveryRefused) as refused:
        message_deliver(recipient=box, mail_from=SENDER, raw=hops + make_mail(to=box))
    assert refused.value.reply.startswith("554 5.4.6")
    assert local.messages(box, INBOX).total == 0


def test_a_bounce_is_kept_never_redirected(
    local: LocalStore, box: str, smtp_server: SMTPCatcher
) -> None:
    local.forwarding_set(box, Forwarding("sophie.perso@example.org", keep_copy=False))
    result = message_deliver(
        recipient=box,
        mail_from="",
        raw=make_mail(to=box, sender="MAILER-DAEMON@example.org", subject="Undelivered Mail"),
    )
    assert result.redirected_to is None and subjects(local, box) == ["Undelivered Mail"]
    assert smtp_server.messages == []


# --- automatic reply -------------------------------------------------------------------------


@pytest.fixture
def away(local: LocalStore, box: str) -> LocalStore:
    local.vacation_set(
        box, Vacation(subject="Absente", body="Je réponds à mon retour, le 4 janvier.")
    )
    return local


def test_vacation_replies_once_per_sender(
    away: LocalStore, box: str, smtp_server: SMTPCatcher
) -> None:
    first = make_mail(to=box, subject="Question")
    assert message_deliver(recipient=box, mail_from=SENDER, raw=first).vacation_replied
    (reply,) = smtp_server.wait_for(1)
    assert smtp_server.envelopes == [("<>", [SENDER])]  # aiosmtpd's spelling of MAIL FROM:<>
    assert reply["Subject"] == "Absente" and reply["Auto-Submitted"] == "auto-replied"
    assert reply["From"] == box and reply["To"] == SENDER
    original = email.message_from_bytes(first, policy=email.policy.default)
    assert reply["In-Reply-To"] == original["Message-ID"]
    assert "le 4 janvier" in reply.get_body().get_content()  # type: ignore[union-attr]
    again = message_deliver(
        recipient=box, mail_from=SENDER, raw=make_mail(to=box, subject="Relance")
    )
    assert not again.vacation_replied and len(smtp_server.messages) == 1
    assert subjects(away, box) == ["Relance", "Question"]  # both kept


@pytest.mark.parametrize(
    ("mail_from", "headers", "to"),
    [
        ("", {}, None),  # a bounce
        ("MAILER-DAEMON@example.org", {}, None),
        ("noreply@example.org", {}, None),
        ("liste-request@example.org", {}, None),
        (SENDER, {"Auto-Submitted": "auto-replied"}, None),
        (SENDER, {"Precedence": "bulk"}, None),
        (SENDER, {"List-Id": "<etudiants.example.org>"}, None),
        (SENDER, {}, "tous@example.org"),  # the student was in Bcc, or on a list
    ],
)
def test_vacation_never_answers_robots_lists_or_bcc(
    away: LocalStore,
    box: str,
    smtp_server: SMTPCatcher,
    mail_from: str,
    headers: dict[str, str],
    to: str | None,
) -> None:
    raw = make_mail(to=to or box, headers=headers)
    assert not message_deliver(recipient=box, mail_from=mail_from, raw=raw).vacation_replied
    assert smtp_server.messages == []


def test_vacation_ends_at_its_date(local: LocalStore, box: str, smtp_server: SMTPCatcher) -> None:
    local.vacation_set(
        box, Vacation(subject="Absente", body=".", until=datetime.now(UTC) - timedelta(hours=1))
    )
    assert not message_deliver(
        recipient=box, mail_from=SENDER, raw=make_mail(to=box)
    ).vacation_replied
    assert smtp_server.messages == []
