"""The embedded mail store: Maildir folders under ``MAIL_DIR`` with a header index per mailbox.

Layout of one mailbox (``settings.MAIL_DIR/<domain>/<localpart>/``), the Maildir++ layout that
Dovecot and Courier also read::

    cur/ new/ tmp/            INBOX
    .Sent/ .Trash/ .Drafts/   the other folders (created on first use)
    index.sqlite3             the header index (a cache: rebuilt from the Maildir when lost)
    rules.json                forwarding and vacation rules (the only state that is not mail)

Messages are files, named by their Maildir key (the UID) and the info suffix that carries the
flags (``:2,S`` = seen). Listing a page must not read every message of a large folder, so each
mailbox has a small SQLite index (WAL, so the receiver and several web processes read while one
writes) with one row per message: UID, delivery time, sender, subject, size, attachments, seen.
Every change made through this store updates the index in the same SQLite write transaction,
which is also the mailbox lock (``BEGIN IMMEDIATE``: one writer per mailbox, across processes).

A change made behind the store's back (a crash between the rename and the commit, an admin's
``mv``, another delivery agent) is noticed through the modification times of the folder's
``new/`` and ``cur/`` directories, recorded with the index: when they differ, the folder is
re-synchronised from a directory listing, reading only the messages the index does not know.
(A change by another program within the same clock tick as a change made through the store
can go unnoticed until the folder changes again; changes made through the store never do.)
"""

from __future__ import annotations

import contextlib
import email.errors
import email.header
import email.parser
import email.policy
import email.utils
import json
import logging
import mailbox as maildir_module
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings

from .base import (
    Folder,
    FolderRole,
    Forwarding,
    MailStoreError,
    MessageNotFound,
    MessagePage,
    MessageSummary,
    Vacation,
)

logger = logging.getLogger(__name__)

INBOX = "INBOX"
# The folders every mailbox has, under their IMAP names (what Dovecot's default namespace and
# most clients use); the views show them as « Envoyés », « Corbeille », « Brouillons ».
STANDARD_FOLDERS: dict[str, FolderRole] = {
    INBOX: FolderRole.INBOX,
    "Drafts": FolderRole.DRAFTS,
    "Sent": FolderRole.SENT,
    "Trash": FolderRole.TRASH,
}
_OTHER_ROLES = {"Junk": FolderRole.JUNK}

INDEX_FILE = "index.sqlite3"
RULES_FILE = "rules.json"
_SCHEMA_VERSION = 1

# A mailbox name becomes two path components: only plain address characters, so that no
# address can name a directory outside MAIL_DIR ("..", "/", NUL are all excluded).
_LOCALPART_RE = re.compile(r"[a-z0-9][a-z0-9._+-]{0,63}")
_DOMAIN_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62})(?:\.[a-z0-9](?:[a-z0-9-]{0,62}))+")
# A Maildir key as Python's ``mailbox`` and Dovecot write them ("1732700000.M123P45Q6.host",
# with "\057" for a "/" in the host name): never "/", ":" or a leading dot. A UID that does
# not match is refused before any path is built from it, and a matching one is looked up in the
# index, whose file names came from a directory listing.
_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._,=\\-]{0,250}")
# A Maildir++ folder name (".Name" on disk, "." separating levels): no "/", no control
# character, no empty level (so no "..").
_FOLDER_RE = re.compile(r"[^./\x00-\x1f\x7f]+(?:\.[^./\x00-\x1f\x7f]+)*")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    folder TEXT NOT NULL,
    uid TEXT NOT NULL,
    filename TEXT NOT NULL,          -- "new/<uid>" or "cur/<uid>:2,<flags>"
    received REAL NOT NULL,          -- delivery time (file mtime), the sort key
    date REAL,                       -- the Date header, when readable
    sender TEXT NOT NULL,
    subject TEXT NOT NULL,
    size INTEGER NOT NULL,
    has_attachments INTEGER NOT NULL,
    seen INTEGER NOT NULL,
    search TEXT NOT NULL,            -- casefolded sender and subject, for the search box
    PRIMARY KEY (folder, uid)
);
CREATE INDEX IF NOT EXISTS message_order ON message (folder, received DESC, uid DESC);
CREATE TABLE IF NOT EXISTS folder_state (folder TEXT PRIMARY KEY, stamp TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vacation_reply (sender TEXT PRIMARY KEY, sent_at REAL NOT NULL);
"""


@dataclass(frozen=True)
class _Headers:
    """What the index keeps of a message's content."""

    date: float | None
    sender: str
    subject: str
    has_attachments: bool


def _decode(value: str | None) -> str:
    """A header value decoded (RFC 2047) on one line; a malformed one is shown as it is."""
    if value is None:
        return ""
    text = str(value)
    with contextlib.suppress(ValueError, LookupError, UnicodeError, email.errors.HeaderParseError):
        text = str(email.header.make_header(email.header.decode_header(text)))
    return " ".join(text.split())


_WANTED = {b"from", b"subject", b"date", b"content-type"}


def _header_block(raw: bytes) -> dict[bytes, str]:
    """The first From, Subject, Date and Content-Type of the header block, unfolded.

    A plain scan of the lines before the first empty one: ``email``'s feed parser builds the
    whole message and costs about ten times more, which shows when a 10,000-message folder is
    indexed for the first time. Undecodable bytes are kept as latin-1 (the list must show
    something, never fail).
    """
    end = raw.find(b"\n\n")
    crlf = raw.find(b"\r\n\r\n")
    if crlf != -1 and (end == -1 or crlf < end):
        end = crlf
    block = raw if end == -1 else raw[:end]
    found: dict[bytes, list[bytes]] = {}
    current: list[bytes] | None = None
    for line in block.split(b"\n"):
        line = line.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current.append(line)
            continue
        name, colon, value = line.partition(b":")
        key = name.strip().lower()
        current = None
        if colon and key in _WANTED and key not in found:
            current = found[key] = [value]
    result = {}
    for key, parts in found.items():
        data = b" ".join(part.strip() for part in parts)
        try:
            result[key] = data.decode("utf-8")
        except UnicodeDecodeError:
            result[key] = data.decode("latin-1")
    return result


def headers_read(raw: bytes) -> _Headers:
    """What the index keeps of a message: decoded sender and subject, date, attachments."""
    headers = _header_block(raw)
    date: float | None = None
    try:
        parsed = email.utils.parsedate_to_datetime(headers.get(b"date", ""))
        if parsed.tzinfo is None:  # "-0000": UTC, origin unknown (RFC 5322 § 3.3)
            parsed = parsed.replace(tzinfo=UTC)
        date = parsed.timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        date = None
    attachments = False
    if headers.get(b"content-type", "").strip().lower().startswith("multipart/"):
        # Only a multipart message can carry an attachment: parse this one whole. A hostile
        # structure (multiparts nested a thousand deep make the parser recurse past Python's
        # limit) only loses its paper clip: a message that cannot be indexed would otherwise
        # fail its delivery after reaching new/ and every later look at the folder.
        try:
            message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw)
            for part in message.walk():
                if part.is_multipart():
                    continue
                if part.get_content_disposition() == "attachment" or (
                    part.get_filename() and part.get_content_maintype() != "text"
                ):
                    attachments = True
                    break
        except Exception:
            attachments = False
    return _Headers(
        date=date,
        sender=_decode(headers.get(b"from")),
        subject=_decode(headers.get(b"subject")),
        has_attachments=attachments,
    )


def _seen(filename: str) -> bool:
    subdir, _, name = filename.partition("/")
    _, colon, info = name.partition(":")
    return subdir == "cur" and bool(colon) and info.startswith("2,") and "S" in info[2:]


def _stamp(path: Path) -> str:
    """The modification times of ``new/`` and ``cur/``: any file added, removed or renamed in a
    folder changes them, so a stored stamp that still matches means the index is current."""
    try:
        return f"{os.stat(path / 'new').st_mtime_ns}:{os.stat(path / 'cur').st_mtime_ns}"
    except FileNotFoundError:
        return "missing"


class LocalStore:
    """``MailStore`` over Maildir folders under ``settings.MAIL_DIR`` (see the module docstring)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root if root is not None else settings.MAIL_DIR)

    # --- paths ---------------------------------------------------------------------------------

    def mailbox_path(self, mailbox: str) -> Path:
        """``MAIL_DIR/<domain>/<localpart>``; an address that is not a plain one is refused."""
        localpart, at, domain = mailbox.strip().lower().rpartition("@")
        if not at or not _LOCALPART_RE.fullmatch(localpart) or not _DOMAIN_RE.fullmatch(domain):
            raise MailStoreError(f"not a mailbox address: {mailbox!r}")
        return self.root / domain / localpart

    def folder_path(self, mailbox: str, folder: str) -> Path:
        """Where a folder lives on disk (whether or not it exists); a forged name is refused."""
        base = self.mailbox_path(mailbox)
        if folder == INBOX:
            return base
        if len(folder) > 200 or not _FOLDER_RE.fullmatch(folder) or folder.upper() == INBOX:
            raise MailStoreError(f"not a folder name: {folder!r}")
        return base / f".{folder}"

    def _mailbox_open(self, mailbox: str) -> Path:
        """The mailbox directory with its standard folders, created on first use."""
        base = self.mailbox_path(mailbox)
        if not (base / ".Trash" / "cur").is_dir():
            base.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            inbox = maildir_module.Maildir(base, create=True)
            for name in STANDARD_FOLDERS:
                if name != INBOX:
                    inbox.add_folder(name)
        return base

    def _folder_dir(self, mailbox: str, folder: str) -> Path:
        """The directory of an existing folder; ``MailStoreError`` for an unknown one."""
        self._mailbox_open(mailbox)
        path = self.folder_path(mailbox, folder)
        if not (path / "cur").is_dir():
            raise MailStoreError(f"no folder {folder!r}")
        return path

    def _folder_names(self, base: Path) -> list[str]:
        names = [INBOX]
        for entry in sorted(os.listdir(base)):
            name = entry[1:]
            if (
                entry.startswith(".")
                and _FOLDER_RE.fullmatch(name)
                and name.upper() != INBOX
                and (base / entry / "cur").is_dir()
            ):
                names.append(name)
        return names

    # --- the index -----------------------------------------------------------------------------

    @contextmanager
    def _index(self, mailbox: str, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection to the mailbox's index; ``write=True`` holds the mailbox lock (one
        writer per mailbox across processes) until the block ends, then commits."""
        base = self._mailbox_open(mailbox)
        path = base / INDEX_FILE
        with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as db:
            db.execute("PRAGMA busy_timeout = 30000")
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version != _SCHEMA_VERSION:
                self._index_create(db, version)
            if write:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            else:
                yield db

    @staticmethod
    def _index_create(db: sqlite3.Connection, version: int) -> None:
        db.execute("BEGIN IMMEDIATE")
        if db.execute("PRAGMA user_version").fetchone()[0] == version:  # not done meanwhile
            if version:  # an older layout: it is a cache, start again from the Maildir
                for table in ("message", "folder_state"):
                    db.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        db.execute("COMMIT")

    def _fresh(self, db: sqlite3.Connection, folder: str, path: Path) -> None:
        """Bring the index of a folder up to date if something changed behind its back."""
        row = db.execute("SELECT stamp FROM folder_state WHERE folder = ?", (folder,)).fetchone()
        if row is not None and row[0] == _stamp(path):
            return
        if db.in_transaction:
            self._sync(db, folder, path)
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            self._sync(db, folder, path)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _sync(self, db: sqlite3.Connection, folder: str, path: Path) -> None:
        """Re-read the folder's directory listing: drop gone messages, follow renamed ones
        (flags), index new ones (the only files opened)."""
        stamp = _stamp(path)  # before listing: a change during the listing shows next time
        on_disk: dict[str, str] = {}
        for subdir in ("new", "cur"):
            try:
                entries = os.listdir(path / subdir)
            except FileNotFoundError:
                continue
            for name in entries:
                key = name.split(":", 1)[0]
                if _KEY_RE.fullmatch(key):
                    on_disk[key] = f"{subdir}/{name}"
        known = dict(db.execute("SELECT uid, filename FROM message WHERE folder = ?", (folder,)))
        gone = [(folder, uid) for uid in known.keys() - on_disk.keys()]
        db.executemany("DELETE FROM message WHERE folder = ? AND uid = ?", gone)
        for uid, filename in on_disk.items():
            if uid in known:
                if known[uid] != filename:
                    db.execute(
                        "UPDATE message SET filename = ?, seen = ? WHERE folder = ? AND uid = ?",
                        (filename, _seen(filename), folder, uid),
                    )
                continue
            try:
                self._index_add(db, folder, path, uid, filename)
            except FileNotFoundError:  # moved meanwhile: the next look finds it elsewhere
                continue
        if gone or len(on_disk) != len(known):
            logger.info(
                "mail index of %s resynchronised: %d gone, %d now", folder, len(gone), len(on_disk)
            )
        db.execute(
            "INSERT INTO folder_state (folder, stamp) VALUES (?, ?)"
            " ON CONFLICT (folder) DO UPDATE SET stamp = excluded.stamp",
            (folder, stamp),
        )

    @staticmethod
    def _index_add(
        db: sqlite3.Connection, folder: str, path: Path, uid: str, filename: str
    ) -> None:
        file = path / filename
        with open(file, "rb") as f:
            raw = f.read()
            stat = os.fstat(f.fileno())
        headers = headers_read(raw)
        db.execute(
            "INSERT OR REPLACE INTO message (folder, uid, filename, received, date, sender,"
            " subject, size, has_attachments, seen, search)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                folder,
                uid,
                filename,
                stat.st_mtime,
                headers.date,
                headers.sender,
                headers.subject,
                stat.st_size,
                headers.has_attachments,
                _seen(filename),
                f"{headers.sender}\n{headers.subject}".casefold(),
            ),
        )

    @staticmethod
    def _stamp_store(db: sqlite3.Connection, folder: str, path: Path) -> None:
        db.execute(
            "INSERT INTO folder_state (folder, stamp) VALUES (?, ?)"
            " ON CONFLICT (folder) DO UPDATE SET stamp = excluded.stamp",
            (folder, _stamp(path)),
        )

    def _lookup(self, db: sqlite3.Connection, folder: str, path: Path, uid: str) -> str:
        """The file name of a message; ``MessageNotFound`` for a forged or gone UID."""
        if not isinstance(uid, str) or not _KEY_RE.fullmatch(uid):
            raise MessageNotFound(uid)
        self._fresh(db, folder, path)
        row = db.execute(
            "SELECT filename FROM message WHERE folder = ? AND uid = ?", (folder, uid)
        ).fetchone()
        if row is None:
            raise MessageNotFound(uid)
        return str(row[0])

    # --- MailStore -----------------------------------------------------------------------------

    def folders(self, mailbox: str) -> list[Folder]:
        """INBOX, Drafts, Sent, Trash (created if missing), then any other folder, with counts."""
        base = self._mailbox_open(mailbox)
        names = self._folder_names(base)
        with self._index(mailbox) as db:
            for name in names:
                self._fresh(db, name, self.folder_path(mailbox, name))
            counts = {
                row[0]: (row[1], row[2])
                for row in db.execute(
                    "SELECT folder, count(*), coalesce(sum(seen = 0), 0) FROM message"
                    " GROUP BY folder"
                )
            }
        result = []
        for name in names:
            role = STANDARD_FOLDERS.get(name) or _OTHER_ROLES.get(name, FolderRole.OTHER)
            total, unread = counts.get(name, (0, 0))
            result.append(Folder(name=name, role=role, total=total, unread=unread))
        order = list(STANDARD_FOLDERS)
        result.sort(key=lambda f: (order.index(f.name) if f.name in order else len(order), f.name))
        return result

    def messages(
        self, mailbox: str, folder: str, *, page: int = 1, page_size: int = 50, query: str = ""
    ) -> MessagePage:
        """A page from the index, newest delivery first; no message file is opened."""
        path = self._folder_dir(mailbox, folder)
        page = max(1, int(page))
        page_size = max(1, min(int(page_size), 500))
        needle = " ".join(query.replace("\x00", "").split()).casefold()
        # Two fixed statements (no SQL built from strings): the plain listing counts and pages
        # on the (folder, received, uid) index alone; the search also reads the search column.
        if needle:
            count_sql = "SELECT count(*) FROM message WHERE folder = ? AND instr(search, ?) > 0"
            page_sql = (
                "SELECT uid, sender, subject, coalesce(date, received), seen, size,"
                " has_attachments FROM message WHERE folder = ? AND instr(search, ?) > 0"
                " ORDER BY received DESC, uid DESC LIMIT ? OFFSET ?"
            )
            args: list[str | int] = [folder, needle]
        else:
            count_sql = "SELECT count(*) FROM message WHERE folder = ?"
            page_sql = (
                "SELECT uid, sender, subject, coalesce(date, received), seen, size,"
                " has_attachments FROM message WHERE folder = ?"
                " ORDER BY received DESC, uid DESC LIMIT ? OFFSET ?"
            )
            args = [folder]
        with self._index(mailbox) as db:
            self._fresh(db, folder, path)
            db.execute("BEGIN")  # one snapshot (WAL) for the count and the page
            total = db.execute(count_sql, args).fetchone()[0]
            rows = db.execute(
                page_sql,
                [*args, page_size, (page - 1) * page_size],
            ).fetchall()
            db.execute("COMMIT")
        return MessagePage(
            messages=[
                MessageSummary(
                    uid=uid,
                    sender=sender,
                    subject=subject,
                    date=None if date is None else datetime.fromtimestamp(date, UTC),
                    unread=not seen,
                    size=size,
                    has_attachments=bool(attachments),
                )
                for uid, sender, subject, date, seen, size, attachments in rows
            ],
            total=total,
            page=page,
            page_size=page_size,
        )

    def message(self, mailbox: str, folder: str, uid: str) -> bytes:
        """The message file's bytes (LF line ends, as Maildir keeps them)."""
        path = self._folder_dir(mailbox, folder)
        with self._index(mailbox) as db:
            filename = self._lookup(db, folder, path, uid)
        try:
            return (path / filename).read_bytes()
        except FileNotFoundError:  # moved or flagged by another process since the lookup
            with self._index(mailbox) as db:
                filename = self._lookup(db, folder, path, uid)
            try:
                return (path / filename).read_bytes()
            except FileNotFoundError:
                raise MessageNotFound(uid) from None

    def arrival(self, mailbox: str, folder: str, uid: str) -> datetime | None:
        """The delivery time the index keeps (the file's mtime), which the list sorts on."""
        path = self._folder_dir(mailbox, folder)
        with self._index(mailbox) as db:
            self._lookup(db, folder, path, uid)
            row = db.execute(
                "SELECT received FROM message WHERE folder = ? AND uid = ?", (folder, uid)
            ).fetchone()
        if row is None:
            raise MessageNotFound(uid)
        return datetime.fromtimestamp(row[0], UTC)

    def mark_read(self, mailbox: str, folder: str, uid: str, read: bool = True) -> None:
        """Rename the file to add or drop the ``S`` flag (moving it from ``new/`` to ``cur/``)."""
        path = self._folder_dir(mailbox, folder)
        with self._index(mailbox, write=True) as db:
            filename = self._lookup(db, folder, path, uid)
            name = filename.partition("/")[2]
            info = name.partition(":")[2]
            flags = set(info[2:]) if info.startswith("2,") else set()
            if read:
                flags.add("S")
            else:
                flags.discard("S")
            target = f"cur/{uid}:2,{''.join(sorted(flags))}"
            if target != filename:
                self._rename(path / filename, path / target, uid)
                db.execute(
                    "UPDATE message SET filename = ?, seen = ? WHERE folder = ? AND uid = ?",
                    (target, read, folder, uid),
                )
                self._stamp_store(db, folder, path)

    def move(self, mailbox: str, folder: str, uid: str, destination: str) -> None:
        """Rename the file into the other folder: same key, same flags, same delivery time."""
        path = self._folder_dir(mailbox, folder)
        target_dir = self._folder_dir(mailbox, destination)
        if destination == folder:
            return
        with self._index(mailbox, write=True) as db:
            filename = self._lookup(db, folder, path, uid)
            self._fresh(db, destination, target_dir)
            target = filename
            if os.path.lexists(target_dir / target):
                raise MailStoreError(f"{uid} already in {destination}")
            self._rename(path / filename, target_dir / target, uid)
            db.execute(
                "UPDATE message SET folder = ? WHERE folder = ? AND uid = ?",
                (destination, folder, uid),
            )
            self._stamp_store(db, folder, path)
            self._stamp_store(db, destination, target_dir)

    def delete(self, mailbox: str, folder: str, uid: str) -> None:
        """To the trash; from the trash, the file is removed."""
        if folder != "Trash":
            self.move(mailbox, folder, uid, "Trash")
            return
        path = self._folder_dir(mailbox, folder)
        with self._index(mailbox, write=True) as db:
            filename = self._lookup(db, folder, path, uid)
            try:
                os.unlink(path / filename)
            except FileNotFoundError:
                raise MessageNotFound(uid) from None
            db.execute("DELETE FROM message WHERE folder = ? AND uid = ?", (folder, uid))
            self._stamp_store(db, folder, path)

    def append(self, mailbox: str, folder: str, raw: bytes, *, read: bool = True) -> None:
        """Store a copy (e.g. of a sent message) in a folder."""
        self.add(mailbox, folder, raw, read=read)

    def add(self, mailbox: str, folder: str, raw: bytes, *, read: bool = False) -> str:
        """Deliver ``raw`` into a folder and index it; returns the new UID (Maildir key).

        The bytes are kept as they came (only CRLF becomes LF, the Maildir convention), so a
        DKIM signature still verifies on a later forward; the file is fsynced by ``mailbox``
        before it appears in ``new/``, so a delivery acknowledged is a delivery on disk.
        """
        path = self._folder_dir(mailbox, folder)
        data = raw.replace(b"\r\n", b"\n")
        with self._index(mailbox, write=True) as db:
            self._fresh(db, folder, path)
            box = maildir_module.Maildir(path, create=False)
            for attempt in range(5):
                try:
                    uid = box.add(data)
                    break
                except maildir_module.ExternalClashError:
                    # Two threads drew the same unique name (the counter is per process).
                    if attempt == 4:
                        raise MailStoreError("could not name the new message") from None
                    time.sleep(0.001)
            filename = f"new/{uid}"
            if read:
                self._rename(path / filename, path / f"cur/{uid}:2,S", uid)
                filename = f"cur/{uid}:2,S"
            self._index_add(db, folder, path, uid, filename)
            self._stamp_store(db, folder, path)
        return uid

    @staticmethod
    def _rename(source: Path, target: Path, uid: str) -> None:
        try:
            os.rename(source, target)
        except FileNotFoundError:
            raise MessageNotFound(uid) from None

    # --- rules ---------------------------------------------------------------------------------

    def _rules(self, mailbox: str) -> dict[str, Any]:
        path = self._mailbox_open(mailbox) / RULES_FILE
        try:
            rules = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (ValueError, OSError) as exc:
            raise MailStoreError(f"unreadable {path}: {exc}") from exc
        return rules if isinstance(rules, dict) else {}

    def _rules_change(self, mailbox: str, name: str, value: dict[str, Any] | None) -> None:
        """Read-modify-write under the mailbox lock; the file is replaced atomically, so a
        delivery reads the old rules or the new ones, never half a file."""
        with self._index(mailbox, write=True) as db:
            rules = self._rules(mailbox)
            if value is None:
                rules.pop(name, None)
            else:
                rules[name] = value
            base = self.mailbox_path(mailbox)
            fd, tmp = tempfile.mkstemp(prefix=".rules-", dir=base)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(rules, f, ensure_ascii=False, indent=1)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, base / RULES_FILE)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
            if name == "vacation":  # a new message: every sender hears it once again
                db.execute("DELETE FROM vacation_reply")

    def forwarding(self, mailbox: str) -> Forwarding | None:
        """The rule from ``rules.json``."""
        rule = self._rules(mailbox).get("forwarding")
        if not isinstance(rule, dict) or not rule.get("address"):
            return None
        return Forwarding(address=str(rule["address"]), keep_copy=bool(rule.get("keep_copy")))

    def forwarding_set(self, mailbox: str, rule: Forwarding | None) -> None:
        """Write (or remove) the forwarding rule; the vacation rule stays."""
        if rule is not None:
            _address_check(rule.address)
        self._rules_change(
            mailbox,
            "forwarding",
            None if rule is None else {"address": rule.address, "keep_copy": rule.keep_copy},
        )

    def vacation(self, mailbox: str) -> Vacation | None:
        """The automatic reply from ``rules.json``."""
        rule = self._rules(mailbox).get("vacation")
        if not isinstance(rule, dict):
            return None
        until = None
        if rule.get("until"):
            try:
                until = datetime.fromisoformat(str(rule["until"]))
            except ValueError:
                until = None
        return Vacation(
            subject=str(rule.get("subject", "")), body=str(rule.get("body", "")), until=until
        )

    def vacation_set(self, mailbox: str, vacation: Vacation | None) -> None:
        """Write (or remove) the automatic reply; the forwarding rule stays."""
        self._rules_change(
            mailbox,
            "vacation",
            None
            if vacation is None
            else {
                "subject": vacation.subject,
                "body": vacation.body,
                "until": vacation.until.isoformat() if vacation.until else None,
            },
        )

    def vacation_reply_claim(self, mailbox: str, sender: str, *, days: int, now: float) -> bool:
        """True (and noted) when ``sender`` has not had the automatic reply for ``days`` days."""
        sender = sender.strip().lower()
        with self._index(mailbox, write=True) as db:
            row = db.execute(
                "SELECT sent_at FROM vacation_reply WHERE sender = ?", (sender,)
            ).fetchone()
            if row is not None and now - row[0] < days * 86400:
                return False
            db.execute(
                "INSERT INTO vacation_reply (sender, sent_at) VALUES (?, ?)"
                " ON CONFLICT (sender) DO UPDATE SET sent_at = excluded.sent_at",
                (sender, now),
            )
            return True


_ADDRESS_CHECK_RE = re.compile(r"[^@\s<>\"',;:()\[\]\\]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def _address_check(address: str) -> None:
    """A forwarding address becomes an envelope recipient: one plain address, nothing else."""
    if len(address) > 254 or not _ADDRESS_CHECK_RE.fullmatch(address):
        raise MailStoreError(f"not an e-mail address: {address!r}")
