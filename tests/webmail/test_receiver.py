"""The receiver of the local backend over the wire (SMTP and LMTP), and its command."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from ent.webmail.backends.base import Forwarding
from ent.webmail.backends.local import INBOX, LocalStore
from ent.webmail.receiver import ReceiverController, receiver_controller
from tests.conftest import SMTPCatcher, free_port
from tests.webmail.mails import make_mail

pytestmark = pytest.mark.django_db(transaction=True)

Start = Callable[..., ReceiverController]


@pytest.fixture
def local(settings: Any, tmp_path: Path) -> LocalStore:
    settings.MAIL_DIR = tmp_path / "mail"
    return LocalStore()


@pytest.fixture
def start_receiver(local: LocalStore) -> Iterator[Start]:
    """``start_receiver("smtp")``: a receiver on a free port, stopped after the test."""
    started: list[ReceiverController] = []

    def start(protocol: str) -> ReceiverController:
        controller = receiver_controller(host="127.0.0.1", port=free_port(), protocol=protocol)
        controller.start()
        started.append(controller)
        return controller

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def box(make_active_student: Any) -> str:
    return str(make_active_student(email="perso@example.org").institutional_email)


def test_smtp_delivers_to_the_inbox(local: LocalStore, start_receiver: Start, box: str) -> None:
    receiver = start_receiver("smtp")
    with smtplib.SMTP(receiver.hostname, receiver.port) as client:
        assert client.ehlo()[0] == 250
        client.sendmail("alice@example.org", [box], make_mail(to=box, subject="Par SMTP"))
    assert [m.subject for m in local.messages(box, INBOX).messages] == ["Par SMTP"]


def test_smtp_refuses_unknown_pending_and_foreign_recipients(
    local: LocalStore, start_receiver: Start, box: str, make_student: Any, settings: Any
) -> None:
    receiver = start_receiver("smtp")
    pending = make_student().institutional_email
    for address in (
        f"inconnu@{settings.STUDENT_MAIL_DOMAIN}",
        pending,
        box.replace(settings.STUDENT_MAIL_DOMAIN, "example.org"),
    ):
        with smtplib.SMTP(receiver.hostname, receiver.port) as client:
            client.ehlo()
            client.mail("alice@example.org")
            code, message = client.rcpt(address)
        assert (code, message.split()[0]) == (550, b"5.1.1"), address
    assert not (local.root / settings.STUDENT_MAIL_DOMAIN / pending.partition("@")[0]).exists()


def test_lmtp_answers_data_once_per_recipient(
    local: LocalStore, start_receiver: Start, make_active_student: Any, settings: Any
) -> None:
    first = make_active_student(email="a@example.org").institutional_email
    second = make_active_student(email="b@example.org").institutional_email
    # The second mailbox cannot be written: its delivery fails, the first still succeeds.
    blocked = local.mailbox_path(second)
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("not a directory")
    receiver = start_receiver("lmtp")
    with smtplib.LMTP(receiver.hostname, receiver.port) as client:
        client.ehlo()  # smtplib's LMTP sends LHLO
        client.mail("alice@example.org")
        assert client.rcpt(first)[0] == 250
        assert client.rcpt(second)[0] == 250
        assert client.rcpt(f"inconnu@{settings.STUDENT_MAIL_DOMAIN}")[0] == 550
        code, _ = client.data(make_mail(to=first, subject="Deux destinataires"))
        code2, message2 = client.getreply()
    assert (code, code2) == (250, 451), message2
    assert [m.subject for m in local.messages(first, INBOX).messages] == ["Deux destinataires"]


def test_a_message_over_the_size_limit_is_refused(
    local: LocalStore, start_receiver: Start, box: str, settings: Any
) -> None:
    settings.MAIL_RECEIVER_MAX_BYTES = 4096
    receiver = start_receiver("smtp")
    big = make_mail(to=box, body="x" * 10_000)
    with smtplib.SMTP(receiver.hostname, receiver.port) as client:
        # Announced (SIZE=…): refused at MAIL FROM.
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("alice@example.org", [box], big)
        assert refused.value.smtp_code == 552
        client.rset()
        # Not announced: refused once the data passes the limit.
        client.mail("alice@example.org")
        client.rcpt(box)
        assert client.data(big)[0] == 552
    assert local.messages(box, INBOX).total == 0


def test_a_bounce_through_smtp_is_kept_not_redirected(
    local: LocalStore, start_receiver: Start, box: str, smtp_server: SMTPCatcher
) -> None:
    local.forwarding_set(box, Forwarding("perso@example.org", keep_copy=False))
    receiver = start_receiver("smtp")
    with smtplib.SMTP(receiver.hostname, receiver.port) as client:
        client.sendmail("<>", [box], make_mail(to=box, subject="Échec de remise"))
    assert [m.subject for m in local.messages(box, INBOX).messages] == ["Échec de remise"]
    assert smtp_server.messages == []


def test_command_refuses_the_dovecot_backend(settings: Any) -> None:
    settings.MAIL_BACKEND = "dovecot"
    with pytest.raises(CommandError, match="dovecot"):
        call_command("mail-receiver", port=free_port())


def test_command_reports_a_busy_port(local: LocalStore) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(CommandError, match="cannot listen"):
            call_command("mail-receiver", host="127.0.0.1", port=busy.getsockname()[1])
