"""What only the local backend has: its Maildir layout, its index, its rules file, its locks.

These tests use ``LocalStore`` on a temporary directory, without the database.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from ent.webmail.backends.base import Forwarding, MailStoreError, MessageNotFound, Vacation
from ent.webmail.backends.local import INBOX, LocalStore
from tests.webmail.conftest import _local_message_reads
from tests.webmail.mails import make_mail, quick_mail

BOX = "sophie.germain@etudiant.univ-perp.fr"


@pytest.fixture
def local(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "mail")


def fill(store: LocalStore, count: int, folder: str = INBOX) -> None:
    for n in range(count):
        store.add(
            BOX,
            folder,
            quick_mail(to=BOX, sender=f"E{n} <e{n}@example.org>", subject=f"Message {n}", n=n),
        )


def test_layout_is_maildir_plus_plus(local: LocalStore) -> None:
    local.folders(BOX)
    base = local.root / "etudiant.univ-perp.fr" / "sophie.germain"
    assert local.mailbox_path(BOX.upper()) == base
    for folder in ("", ".Sent", ".Trash", ".Drafts"):
        assert {"cur", "new", "tmp"} <= set(os.listdir(base / folder or base))
    uid = local.add(BOX, INBOX, make_mail(to=BOX, subject="Un"))
    assert (base / "new" / uid).is_file()
    local.mark_read(BOX, INBOX, uid)
    assert (base / "cur" / f"{uid}:2,S").is_file() and not (base / "new" / uid).exists()
    assert b"\r\n" not in (base / "cur" / f"{uid}:2,S").read_bytes()  # Maildir keeps LF


@pytest.mark.parametrize(
    "mailbox",
    [
        "../x@etudiant.univ-perp.fr",
        "a/b@etudiant.univ-perp.fr",
        "x@../etc",
        "x@etudiant..fr",
        "sans-arobase",
        "",
    ],
)
def test_a_forged_mailbox_name_is_refused(local: LocalStore, mailbox: str) -> None:
    with pytest.raises(MailStoreError):
        local.folders(mailbox)
    assert not (local.root.parent / "x").exists()


def test_listing_and_searching_open_no_message_file(local: LocalStore) -> None:
    fill(local, 300)
    local.messages(BOX, INBOX)
    with _local_message_reads(local.mailbox_path(BOX)) as reads:
        page = local.messages(BOX, INBOX, page=2, page_size=50)
        found = local.messages(BOX, INBOX, query="message 29")
        folders = local.folders(BOX)
    assert page.messages[0].subject == "Message 249" and page.total == 300
    assert found.total == 11  # 29 and 290…299
    assert folders[0].total == 300
    assert reads == []
    # The watcher does see reads: fetching one message opens exactly that file.
    with _local_message_reads(local.mailbox_path(BOX)) as reads:
        local.message(BOX, INBOX, page.messages[0].uid)
    assert len(reads) == 1


def test_the_index_is_rebuilt_when_lost(local: LocalStore) -> None:
    fill(local, 5)
    uid = local.messages(BOX, INBOX).messages[0].uid
    local.mark_read(BOX, INBOX, uid)
    base = local.mailbox_path(BOX)
    for name in os.listdir(base):
        if name.startswith("index.sqlite3"):
            os.unlink(base / name)
    page = local.messages(BOX, INBOX)
    assert [m.subject for m in page.messages] == [f"Message {n}" for n in range(4, -1, -1)]
    assert [m.unread for m in page.messages] == [False, True, True, True, True]


def test_the_index_follows_changes_made_behind_its_back(local: LocalStore) -> None:
    fill(local, 3)
    first, second, third = local.messages(BOX, INBOX).messages
    base = local.mailbox_path(BOX)
    # Another program flags one message as seen, removes another, delivers a new one.
    os.rename(base / "new" / first.uid, base / "cur" / f"{first.uid}:2,S")
    os.unlink(base / "new" / second.uid)
    (base / "new" / "1700000000.M1P1Q1.other").write_bytes(
        quick_mail(to=BOX, sender="x@example.org", subject="Venu d'ailleurs", n=0)
    )
    os.utime(base / "new" / "1700000000.M1P1Q1.other", (9e9, 9e9))  # the newest
    page = local.messages(BOX, INBOX)
    assert [(m.subject, m.unread) for m in page.messages] == [
        ("Venu d'ailleurs", True),
        (first.subject, False),
        (third.subject, True),
    ]
    with pytest.raises(MessageNotFound):
        local.message(BOX, INBOX, second.uid)


def _deliver_many(root: str, worker: int, count: int) -> None:
    store = LocalStore(Path(root))
    for n in range(count):
        store.add(
            BOX, INBOX, quick_mail(to=BOX, sender="x@example.org", subject=f"P{worker}-{n}", n=n)
        )


def test_concurrent_deliveries_from_several_processes_are_all_indexed(local: LocalStore) -> None:
    """The receiver and web processes write the same mailbox: none of their changes is lost."""
    local.folders(BOX)
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_deliver_many, args=(str(local.root), w, 40)) for w in range(3)
    ]
    for worker in workers:
        worker.start()
    seen_during = local.messages(BOX, INBOX).total  # reading while they write
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    page = local.messages(BOX, INBOX, page_size=500)
    assert 0 <= seen_during <= 120 and page.total == 120
    assert len({m.subject for m in page.messages}) == 120
    on_disk = os.listdir(local.mailbox_path(BOX) / "new")
    assert sorted(on_disk) == sorted(m.uid for m in page.messages)


def test_rules_are_one_json_file_replaced_atomically(local: LocalStore) -> None:
    local.forwarding_set(BOX, Forwarding("sophie.perso@example.org", keep_copy=True))
    local.vacation_set(BOX, Vacation(subject="Absente", body="Retour lundi."))
    rules = json.loads((local.mailbox_path(BOX) / "rules.json").read_text())
    assert rules["forwarding"] == {"address": "sophie.perso@example.org", "keep_copy": True}
    assert rules["vacation"]["subject"] == "Absente"
    assert not [n for n in os.listdir(local.mailbox_path(BOX)) if n.startswith(".rules-")]


@pytest.mark.parametrize(
    "address", ["pas une adresse", "a@b.fr\r\nBcc: x@y.fr", "a@b.fr, c@d.fr", "<a@b.fr>", "a@b"]
)
def test_a_forwarding_address_must_be_one_plain_address(local: LocalStore, address: str) -> None:
    with pytest.raises(MailStoreError):
        local.forwarding_set(BOX, Forwarding(address, keep_copy=True))
    assert local.forwarding(BOX) is None


def test_vacation_reply_claim_once_per_period_and_reset_by_a_new_message(local: LocalStore) -> None:
    local.vacation_set(BOX, Vacation(subject="Absente", body="."))
    assert local.vacation_reply_claim(BOX, "Alice@Example.org", days=7, now=1000.0)
    assert not local.vacation_reply_claim(BOX, "alice@example.org", days=7, now=1000.0 + 6 * 86400)
    assert local.vacation_reply_claim(BOX, "alice@example.org", days=7, now=1000.0 + 8 * 86400)
    local.vacation_set(BOX, Vacation(subject="Absente encore", body="."))
    assert local.vacation_reply_claim(BOX, "alice@example.org", days=7, now=1000.0 + 8 * 86400)


def test_an_unknown_folder_cannot_be_a_move_destination(local: LocalStore) -> None:
    uid = local.add(BOX, INBOX, make_mail(to=BOX))
    with pytest.raises(MailStoreError):
        local.move(BOX, INBOX, uid, "../../elsewhere")
    with pytest.raises(MailStoreError):
        local.move(BOX, INBOX, uid, "Archives")
    assert local.messages(BOX, INBOX).total == 1
