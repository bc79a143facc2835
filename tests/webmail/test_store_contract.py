"""The ``MailStore`` contract: every backend (``local``, ``dovecot``) passes these unchanged.

They use only the ``MailStore`` API and the fixtures of ``conftest.py`` (``store``,
``new_mailbox``, ``deliver``, ``mail_backend``, ``smtp_server``): mail comes in through the
backend's real receiver (LMTP), redirected mail goes out to a real SMTP server.
"""

from __future__ import annotations

import email.policy
import smtplib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ent.webmail.backends.base import (
    FolderRole,
    Forwarding,
    MailStore,
    MailStoreError,
    MessageNotFound,
    MessageSummary,
    Vacation,
)
from tests.conftest import SMTPCatcher
from tests.webmail.conftest import MailHarness
from tests.webmail.mails import make_mail, quick_mail

pytestmark = pytest.mark.django_db(transaction=True)

Deliver = Callable[..., None]
NewMailbox = Callable[..., str]


def folder_of(store: MailStore, mailbox: str, role: FolderRole) -> str:
    """The name of the folder with that role (each server names its folders its own way)."""
    names = [f.name for f in store.folders(mailbox) if f.role == role]
    assert names, f"no {role} folder"
    return names[0]


def listing(
    store: MailStore, mailbox: str, role: FolderRole, **kwargs: Any
) -> list[MessageSummary]:
    return store.messages(mailbox, folder_of(store, mailbox, role), **kwargs).messages


def subjects(store: MailStore, mailbox: str, role: FolderRole, **kwargs: Any) -> list[str]:
    return [m.subject for m in listing(store, mailbox, role, **kwargs)]


def uid_of(store: MailStore, mailbox: str, role: FolderRole, subject: str) -> str:
    (uid,) = [m.uid for m in listing(store, mailbox, role, page_size=200) if m.subject == subject]
    return uid


# --- folders and messages --------------------------------------------------------------------


def test_a_new_mailbox_has_inbox_sent_and_trash(store: MailStore, new_mailbox: NewMailbox) -> None:
    box = new_mailbox()
    folders = {f.role: f for f in store.folders(box)}
    assert {FolderRole.INBOX, FolderRole.SENT, FolderRole.TRASH} <= folders.keys()
    assert folders[FolderRole.INBOX].total == 0 and folders[FolderRole.INBOX].unread == 0


def test_delivered_mail_is_listed_newest_first_with_its_headers(
    store: MailStore, new_mailbox: NewMailbox, deliver: Deliver
) -> None:
    box = new_mailbox()
    sent_at = datetime(2026, 11, 2, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    deliver(
        box,
        make_mail(
            to=box,
            sender="Éloïse Durand <eloise.durand@example.org>",
            subject="Réunion de rentrée",
            date=sent_at,
            attachment=("emploi-du-temps.pdf", b"%PDF-1.4 test"),
        ),
    )
    deliver(box, make_mail(to=box, subject="Deuxième"))
    deliver(box, make_mail(to=box, subject="Troisième"))

    page = store.messages(box, folder_of(store, box, FolderRole.INBOX))
    assert [m.subject for m in page.messages] == ["Troisième", "Deuxième", "Réunion de rentrée"]
    assert page.total == 3 and page.page == 1
    first = page.messages[2]
    assert first.sender == "Éloïse Durand <eloise.durand@example.org>"
    assert first.date == sent_at
    assert first.unread and first.size > 0 and first.has_attachments
    assert not page.messages[0].has_attachments
    inbox = {f.role: f for f in store.folders(box)}[FolderRole.INBOX]
    assert (inbox.total, inbox.unread) == (3, 3)


def test_a_message_without_a_date_header_is_dated_by_its_arrival(
    store: MailStore, new_mailbox: NewMailbox, deliver: Deliver
) -> None:
    address = new_mailbox()
    raw = make_mail(to=address, subject="Sans date")
    raw = b"".join(line for line in raw.splitlines(keepends=True) if not line.startswith(b"Date:"))
    before = datetime.now(UTC) - timedelta(seconds=2)
    deliver(address, raw)
    (summary,) = store.messages(address, "INBOX").messages
    assert summary.subject == "Sans date"
    assert summary.date is not None and summary.date.tzinfo is not None
    assert before <= summary.date <= datetime.now(UTC) + timedelta(seconds=2)


def test_paging(store: MailStore, new_mailbox: NewMailbox, deliver: Deliver) -> None:
    box = new_mailbox()
    for n in range(5):
        deliver(box, make_mail(to=box, subject=f"Message {n}"))
    pages = [
        store.messages(box, folder_of(store, box, FolderRole.INBOX), page=p, page_size=2)
        for p in (1, 2, 3)
    ]
    assert [[m.subject for m in p.messages] for p in pages] == [
        ["Message 4", "Message 3"],
        ["Message 2", "Message 1"],
        ["Message 0"],
    ]
    assert {p.total for p in pages} == {5}
    assert [p.page for p in pages] == [1, 2, 3] and {p.page_size for p in pages} == {2}


def test_search_by_sender_or_subject(
    store: MailStore, new_mailbox: NewMailbox, deliver: Deliver
) -> None:
    box = new_mailbox()
    deliver(box, make_mail(to=box, sender="Alice <alice@example.org>", subject="Examen de mars"))
    deliver(box, make_mail(to=box, sender="Bruno <bruno@example.org>", subject="Bourse"))
    deliver(box, make_mail(to=box, sender="Bruno <bruno@example.org>", subject="Rentrée 2026"))

    assert subjects(store, box, FolderRole.INBOX, query="ALICE") == ["Examen de mars"]
    assert subjects(store, box, FolderRole.INBOX, query="bruno@example") == [
        "Rentrée 2026",
        "Bourse",
    ]
    assert subjects(store, box, FolderRole.INBOX, query="rentrée") == ["Rentrée 2026"]
    found = store.messages(box, folder_of(store, box, FolderRole.INBOX), query="examen")
    assert found.total == 1
    assert subjects(store, box, FolderRole.INBOX, query="introuvable") == []


def test_raw_message_does_not_change_the_read_flag(
    store: MailStore, new_mailbox: NewMailbox, deliver: Deliver
) -> None:
    box = new_mailbox()
    deliver(box, make_mail(to=box, subject="Brut", body="Le corps du message.\n"))
    uid = uid_of(store, box, FolderRole.INBOX, "Brut")
    raw = store.message(box, folder_of(store, box, FolderRole.INBOX), uid)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "Brut"
    assert "Le corps du message." in parsed.get_body().get_content()  # type: ignore[union-attr]
    assert listing(store, box, FolderRole.INBOX)[0].unread


def test_mark_read_and_unread(store: MailStore, new_mailbox: NewMailbox, deliver: Deliver) -> None:
    box = new_mailbox()
    deliver(box, make_mail(to=box, subject="Lu"))
    inbox = folder_of(store, box, FolderRole.INBOX)
    uid = uid_of(store, box, FolderRole.INBOX, "Lu")
    store.mark_read(box, inbox, uid)
    assert not listing(store, box, FolderRole.INBOX)[0].unread
    assert {f.role: f for f in store.folders(box)}[FolderRole.INBOX].unread == 0
    store.mark_read(box, inbox, uid, read=False)
    assert listing(store, box, FolderRole.INBOX)[0].unread
    assert {f.role: f for f in store.folders(box)}[FolderRole.INBOX].unread == 1


def test_move(store: MailStore, new_mailbox: NewMailbox, deliver: Deliver) -> None:
    box = new_mailbox()
    deliver(box, make_mail(to=box, subject="À classer"))
    deliver(box, make_mail(to=box, subject="Reste"))
    inbox = folder_of(store, box, FolderRole.INBOX)
    sent = folder_of(store, box, FolderRole.SENT)
    store.move(box, inbox, uid_of(store, box, FolderRole.INBOX, "À classer"), sent)
    assert subjects(store, box, FolderRole.INBOX) == ["Reste"]
    assert subjects(store, box, FolderRole.SENT) == ["À classer"]
    moved = uid_of(store, box, FolderRole.SENT, "À classer")
    assert b"Subject:" in store.message(box, sent, moved)


def test_delete_goes_to_trash_then_for_good(
    store: MailStore, new_mailbox: NewMailbox, deliver: Deliver
) -> None:
    box = new_mailbox()
    deliver(box, make_mail(to=box, subject="À jeter"))
    inbox = folder_of(store, box, FolderRole.INBOX)
    trash = folder_of(store, box, FolderRole.TRASH)
    store.delete(box, inbox, uid_of(store, box, FolderRole.INBOX, "À jeter"))
    assert subjects(store, box, FolderRole.INBOX) == []
    assert subjects(store, box, FolderRole.TRASH) == ["À jeter"]
    uid = uid_of(store, box, FolderRole.TRASH, "À jeter")
    store.delete(box, trash, uid)
    assert subjects(store, box, FolderRole.TRASH) == []
    assert sum(f.total for f in store.folders(box)) == 0
    with pytest.raises(MessageNotFound):
        store.message(box, trash, uid)


def test_append_to_sent(store: MailStore, new_mailbox: NewMailbox) -> None:
    box = new_mailbox()
    sent = folder_of(store, box, FolderRole.SENT)
    store.append(box, sent, make_mail(to="alice@example.org", sender=box, subject="Envoyé"))
    store.append(
        box, sent, make_mail(to="bruno@example.org", sender=box, subject="Brouillon"), read=False
    )
    summaries = listing(store, box, FolderRole.SENT)
    assert [(m.subject, m.unread) for m in summaries] == [("Brouillon", True), ("Envoyé", False)]
    assert summaries[1].sender == box


# --- rules ------------------------------------------------------------------------------------


def test_forwarding_set_get_remove(store: MailStore, new_mailbox: NewMailbox) -> None:
    box = new_mailbox()
    assert store.forwarding(box) is None
    store.forwarding_set(box, Forwarding(address="sophie.perso@example.org", keep_copy=True))
    assert store.forwarding(box) == Forwarding("sophie.perso@example.org", keep_copy=True)
    store.forwarding_set(box, Forwarding(address="autre@example.net", keep_copy=False))
    assert store.forwarding(box) == Forwarding("autre@example.net", keep_copy=False)
    store.forwarding_set(box, None)
    assert store.forwarding(box) is None


def test_vacation_set_get_remove(store: MailStore, new_mailbox: NewMailbox) -> None:
    box = new_mailbox()
    assert store.vacation(box) is None
    until = datetime(2027, 1, 4, tzinfo=UTC)
    store.vacation_set(
        box, Vacation(subject="Absente", body="Je suis absente jusqu'au 4 janvier.", until=until)
    )
    got = store.vacation(box)
    assert got is not None and (got.subject, got.body) == (
        "Absente",
        "Je suis absente jusqu'au 4 janvier.",
    )
    assert got.until is not None and abs(got.until - until) <= timedelta(days=1)
    store.vacation_set(box, Vacation(subject="Congés", body="En congés."))
    assert store.vacation(box) == Vacation(subject="Congés", body="En congés.")
    store.vacation_set(box, None)
    assert store.vacation(box) is None


def test_forwarding_and_vacation_do_not_replace_each_other(
    store: MailStore, new_mailbox: NewMailbox
) -> None:
    box = new_mailbox()
    store.forwarding_set(box, Forwarding("sophie.perso@example.org", keep_copy=True))
    store.vacation_set(box, Vacation(subject="Absente", body="Absente."))
    assert store.forwarding(box) == Forwarding("sophie.perso@example.org", keep_copy=True)
    store.forwarding_set(box, None)
    assert store.vacation(box) == Vacation(subject="Absente", body="Absente.")
    store.forwarding_set(box, Forwarding("sophie.perso@example.org", keep_copy=False))
    store.vacation_set(box, None)
    assert store.forwarding(box) == Forwarding("sophie.perso@example.org", keep_copy=False)


# --- the key scenarios ---------------------------------------------------------------


def test_forwarding_with_a_copy_reaches_the_personal_address_and_stays_in_inbox(
    store: MailStore, new_mailbox: NewMailbox, deliver: Deliver, smtp_server: SMTPCatcher
) -> None:
    box = new_mailbox(personal_email="sophie.perso@example.org")
    store.forwarding_set(box, Forwarding("sophie.perso@example.org", keep_copy=True))
    deliver(box, make_mail(to=box, subject="Inscriptions pédagogiques", body="Avant vendredi.\n"))

    (forwarded,) = smtp_server.wait_for(1)
    assert forwarded["Subject"] == "Inscriptions pédagogiques"
    assert "Avant vendredi." in forwarded.get_body().get_content()  # type: ignore[union-attr]
    assert smtp_server.envelopes[0][1] == ["sophie.perso@example.org"]
    assert subjects(store, box, FolderRole.INBOX) == ["Inscriptions pédagogiques"]


def test_forwarding_without_a_copy_reaches_the_personal_address_and_is_not_kept(
    store: MailStore, new_mailbox: NewMailbox, deliver: Deliver, smtp_server: SMTPCatcher
) -> None:
    box = new_mailbox(personal_email="sophie.perso@example.org")
    store.forwarding_set(box, Forwarding("sophie.perso@example.org", keep_copy=False))
    deliver(box, make_mail(to=box, subject="Sans copie"))

    (forwarded,) = smtp_server.wait_for(1)
    assert forwarded["Subject"] == "Sans copie"
    assert smtp_server.envelopes[0][1] == ["sophie.perso@example.org"]
    assert sum(f.total for f in store.folders(box)) == 0


def test_unknown_recipient_is_refused(
    store: MailStore, new_mailbox: NewMailbox, deliver: Deliver, settings: Any
) -> None:
    new_mailbox()
    stranger = f"personne.inconnue@{settings.STUDENT_MAIL_DOMAIN}"
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        deliver(stranger, make_mail(to=stranger))
    code, _ = refused.value.recipients[stranger]
    assert code == 550


@pytest.mark.parametrize(
    "forged", ["../x", "../../../etc/passwd", "/etc/passwd", "", "1:2,S", "x/y"]
)
def test_forged_uid_is_refused(
    store: MailStore, new_mailbox: NewMailbox, deliver: Deliver, forged: str
) -> None:
    box = new_mailbox()
    deliver(box, make_mail(to=box, subject="Vrai"))
    inbox = folder_of(store, box, FolderRole.INBOX)
    with pytest.raises(MessageNotFound):
        store.message(box, inbox, forged)
    with pytest.raises(MessageNotFound):
        store.mark_read(box, inbox, forged)
    with pytest.raises(MessageNotFound):
        store.move(box, inbox, forged, folder_of(store, box, FolderRole.TRASH))
    with pytest.raises(MessageNotFound):
        store.delete(box, inbox, forged)
    assert subjects(store, box, FolderRole.INBOX) == ["Vrai"]


def test_uid_of_another_mailbox_is_refused(
    store: MailStore, new_mailbox: NewMailbox, deliver: Deliver
) -> None:
    alice, bruno = new_mailbox(), new_mailbox()
    deliver(alice, make_mail(to=alice, subject="Privé"))
    uid = uid_of(store, alice, FolderRole.INBOX, "Privé")
    deliver(bruno, make_mail(to=bruno, subject="Autre"))
    inbox = folder_of(store, bruno, FolderRole.INBOX)
    if uid != uid_of(store, bruno, FolderRole.INBOX, "Autre"):  # IMAP UIDs may coincide
        with pytest.raises(MessageNotFound):
            store.message(bruno, inbox, uid)


@pytest.mark.parametrize("folder", ["../x", "../../etc", "INBOX/../..", "Nulle part"])
def test_forged_folder_is_refused(store: MailStore, new_mailbox: NewMailbox, folder: str) -> None:
    box = new_mailbox()
    with pytest.raises(MailStoreError):
        store.messages(box, folder)


def test_a_10000_message_folder_lists_page_one_without_reading_every_message(
    mail_backend: MailHarness, store: MailStore, new_mailbox: NewMailbox, deliver: Deliver
) -> None:
    box = new_mailbox()
    inbox = folder_of(store, box, FolderRole.INBOX)
    mail_backend.fill(
        box,
        inbox,
        (
            quick_mail(
                to=box, sender=f"Expediteur {n} <exp{n}@example.org>", subject=f"Message {n}", n=n
            )
            for n in range(10_000)
        ),
    )
    assert store.messages(box, inbox, page_size=50).total == 10_000  # the backend may index now
    deliver(box, make_mail(to=box, subject="Le plus récent"))

    with mail_backend.message_reads(box) as reads:
        started = time.perf_counter()
        page = store.messages(box, inbox, page=1, page_size=50)
        listed = time.perf_counter() - started
        found = store.messages(box, inbox, query="Message 9998")
        searched = time.perf_counter() - started - listed
    assert page.total == 10_001
    assert [m.subject for m in page.messages[:3]] == [
        "Le plus récent",
        "Message 9999",
        "Message 9998",
    ]
    assert len(page.messages) == 50
    assert [m.subject for m in found.messages] == ["Message 9998"]
    # At most the messages shown may be read, never the folder.
    assert len(reads) <= 50, f"{len(reads)} message files read to show one page"
    assert listed < 1.0 and searched < 1.0, (listed, searched)


def test_a_forwarding_loop_does_not_ping_pong(
    store: MailStore, new_mailbox: NewMailbox, deliver: Deliver, smtp_server: SMTPCatcher
) -> None:
    """A forwards to B, B forwards to A: the MTA brings each redirect back to the receiver."""
    alice = new_mailbox(personal_email="alice.perso@example.org")
    bruno = new_mailbox(personal_email="bruno.perso@example.org")
    store.forwarding_set(alice, Forwarding(bruno, keep_copy=False))
    store.forwarding_set(bruno, Forwarding(alice, keep_copy=False))

    deliver(alice, make_mail(to=alice, subject="Boucle"))
    first = smtp_server.wait_for(1)[0]
    assert smtp_server.envelopes[0][1] == [bruno]
    deliver(bruno, first.as_bytes(policy=email.policy.SMTP))
    second = smtp_server.wait_for(2)[1]
    assert smtp_server.envelopes[1][1] == [alice]
    deliver(alice, second.as_bytes(policy=email.policy.SMTP))

    time.sleep(1.0)  # a third redirect would have arrived by now
    assert len(smtp_server.messages) == 2, smtp_server.envelopes
