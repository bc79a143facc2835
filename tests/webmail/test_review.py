"""Defects found by the security and correctness review of the webmail, one test each.

Each test failed before its fix (see the commit that added it): hostile or merely unusual mail
must never break a mailbox, a delivery or a page.
"""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from ent.accounts.models import Account
from ent.webmail import rendering
from ent.webmail.backends import FolderRole, MailStore
from ent.webmail.backends.base import Vacation
from ent.webmail.backends.local import INBOX, LocalStore
from ent.webmail.delivery import message_deliver
from tests.conftest import SMTPCatcher
from tests.webmail.mails import make_mail
from tests.webmail.test_views import folder_name, message_url, uids

SENDER = "alice.martin@example.org"


def deeply_nested(to: str, depth: int = 1500) -> bytes:
    """A small mail (≈ 100 KB) whose multiparts nest ``depth`` deep: Python's email parser
    recurses once per level and gives up with RecursionError."""
    lines = [f"From: {SENDER}", f"To: {to}", "Subject: Poupées russes", "MIME-Version: 1.0"]
    for level in range(depth):
        lines += [f'Content-Type: multipart/mixed; boundary="b{level}"', "", f"--b{level}"]
    lines += ["Content-Type: text/plain; charset=utf-8", "", "Tout au fond.", ""]
    lines += [f"--b{level}--" for level in reversed(range(depth))]
    return ("\r\n".join(lines) + "\r\n").encode()


# --- Deeply nested MIME ----------------------------------------------------------------------


def test_deep_mime_nesting_is_parsed_without_recursion_error() -> None:
    parsed = rendering.parse(deeply_nested("sophie@example.org"))
    assert parsed.subject == "Poupées russes" and parsed.sender == SENDER
    assert "Tout au fond." in rendering.body_text(parsed)


@pytest.mark.django_db
def test_deep_mime_nesting_does_not_break_the_local_mailbox(
    settings: Any, tmp_path: Path, active_student: Any
) -> None:
    # Before: the file reached new/, indexing it raised RecursionError, the delivery answered
    # 451 (the MTA retried, adding a copy each time) and every later look at the INBOX failed.
    settings.MAIL_DIR = tmp_path / "mail"
    local = LocalStore()
    box = str(active_student.institutional_email)
    message_deliver(recipient=box, mail_from=SENDER, raw=deeply_nested(box))
    message_deliver(recipient=box, mail_from=SENDER, raw=make_mail(to=box, subject="Après"))
    assert [m.subject for m in local.messages(box, INBOX).messages] == ["Après", "Poupées russes"]


@pytest.mark.django_db(transaction=True)
def test_deep_mime_nesting_message_page_is_no_500(
    new_mailbox: Callable[..., str],
    store: MailStore,
    deliver: Callable[..., None],
    smtp_server: SMTPCatcher,
) -> None:
    mailbox = new_mailbox()
    deliver(mailbox, deeply_nested(mailbox))
    (uid,) = uids(store, mailbox)
    client = Client()
    client.force_login(Account.objects.get(student__institutional_email=mailbox))
    inbox = folder_name(store, mailbox, FolderRole.INBOX)
    assert client.get(f"/webmail/folder/{inbox}/").status_code == 200
    for suffix in ("", "body/", "reply/", "forward/", "delete/"):
        response = client.get(message_url(store, mailbox, uid, suffix))
        assert response.status_code == 200, suffix
    assert b"Tout au fond." in client.get(message_url(store, mailbox, uid, "body/")).content
    response = client.post(
        message_url(store, mailbox, uid, "forward/"),
        {"to": "dan@example.org", "subject": "Fwd: Poupées russes", "body": "Regarde."},
    )
    assert response.status_code == 302
    (attached,) = list(smtp_server.wait_for(1)[0].iter_attachments())
    assert attached.get_filename() == "message.eml"


# --- Automatic reply -------------------------------------------------------------------------


@pytest.mark.django_db
def test_vacation_reply_to_a_folded_message_id(
    settings: Any, tmp_path: Path, active_student: Any, smtp_server: SMTPCatcher
) -> None:
    # Before: the folded Message-ID went as is into In-Reply-To, EmailMessage refused the line
    # break (ValueError) after the message was stored: 451, and the MTA's retry stored it twice.
    settings.MAIL_DIR = tmp_path / "mail"
    local = LocalStore()
    box = str(active_student.institutional_email)
    local.vacation_set(box, Vacation(subject="Absente", body="De retour lundi."))
    raw = make_mail(to=box, subject="Pliée").replace(b"Message-ID: <", b"Message-ID: <pli\r\n ", 1)
    result = message_deliver(recipient=box, mail_from=SENDER, raw=raw)
    assert result.vacation_replied
    (reply,) = smtp_server.wait_for(1)
    original = email.message_from_bytes(raw, policy=email.policy.compat32)
    unfolded = " ".join(str(original["Message-ID"]).split())
    assert unfolded.startswith("<pli ") and " ".join(reply["In-Reply-To"].split()) == unfolded
    assert local.messages(box, INBOX).total == 1


# --- Tens of thousands of MIME parts ---------------------------------------------------------


def test_a_mail_of_twenty_thousand_tiny_parts_is_shown_flat_and_quickly() -> None:
    # Before: about 10 s of CPU per parse (1 MB of mail; minutes at the receiver's 25 MB
    # limit), done twice per page view, and a list of 20,000 attachments.
    raw = (
        b'Subject: Mille-feuille\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        + b"--b\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n" * 20000
        + b"--b--\r\n"
    )
    started = time.process_time()
    parsed = rendering.parse(raw)
    assert time.process_time() - started < 2
    assert parsed.subject == "Mille-feuille" and parsed.attachments == []
    assert parsed.text is not None and parsed.text.startswith("--b")


# --- Replying at 23:00 -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_reply_to_a_header_with_an_invisible_control_character_can_be_sent(
    new_mailbox: Callable[..., str],
    store: MailStore,
    deliver: Callable[..., None],
    smtp_server: SMTPCatcher,
) -> None:
    # Before: an encoded BEL (or any control but CR/LF/TAB) in Subject or the sender's name
    # went into the reply form, whose checks then refused what the student never typed (and
    # cannot see): "Retirez les retours à la ligne et caractères de contrôle".
    mailbox = new_mailbox()
    raw = make_mail(to=mailbox, subject="placeholder", sender="placeholder <alice@example.org>")
    raw = raw.replace(b"Subject: placeholder", b"Subject: =?utf-8?q?Note=07_finale?=", 1)
    raw = raw.replace(b"From: placeholder", b"From: =?utf-8?q?Alice=1BMartin?=", 1)
    deliver(mailbox, raw)
    (uid,) = uids(store, mailbox)
    client = Client()
    client.force_login(Account.objects.get(student__institutional_email=mailbox))
    initial = client.get(message_url(store, mailbox, uid, "reply/")).context["form"].initial
    response = client.post(message_url(store, mailbox, uid, "reply/"), {**initial, "body": "Reçu."})
    assert response.status_code == 302, response.context["form"].errors
    (answer,) = smtp_server.wait_for(1)
    assert answer["Subject"].split() == ["Re:", "Note", "finale"]
