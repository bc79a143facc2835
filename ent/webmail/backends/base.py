"""What every mail backend offers: the contract the webmail views are written against.

A mailbox is named by the student's institutional address (``Student.institutional_email``,
e.g. ``p2100123@etudiant.univ-perp.fr``). Messages are named by their folder and a UID, a
string that stays valid while the message stays in that folder (IMAP UID, Maildir key).
Bodies travel as raw RFC 5322 bytes; parsing and sanitising is the views' business
(``ent.webmail.rendering``), so both backends show a message the same way.

Folder names are the backend's own (IMAP names); ``role`` says which is the inbox, the sent
folder ("Envoyés") and the trash ("Corbeille"), whatever the server calls them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class MailStoreError(Exception):
    """The mail server cannot be reached or refused the operation (shown as a clear page)."""


class MessageNotFound(MailStoreError):
    """No such message (deleted meanwhile, or a forged UID)."""


class FolderRole(StrEnum):
    """What a folder is for, whatever its name on the server."""

    INBOX = "inbox"
    SENT = "sent"
    TRASH = "trash"
    DRAFTS = "drafts"
    JUNK = "junk"
    OTHER = "other"


@dataclass(frozen=True)
class Folder:
    """One folder of a mailbox, with its counts."""

    name: str
    role: FolderRole
    total: int
    unread: int


@dataclass(frozen=True)
class MessageSummary:
    """One line of the message list (read from an index or IMAP ENVELOPE, never the body)."""

    uid: str
    sender: str  # as in the From header, decoded: "Prénom Nom <adresse@exemple.fr>"
    subject: str  # decoded
    # Aware: the Date header, or the arrival time when the header is missing or unreadable
    # (so a list never shows a message without a date); None only if neither is known.
    date: datetime | None
    unread: bool
    size: int
    has_attachments: bool = False


@dataclass(frozen=True)
class MessagePage:
    """One page of a folder, newest first."""

    messages: list[MessageSummary]
    total: int  # matching messages in the folder (after the search filter)
    page: int  # 1-based
    page_size: int


@dataclass(frozen=True)
class Forwarding:
    """The forwarding rule of a mailbox: redirect to ``address``, keep a copy or not."""

    address: str
    keep_copy: bool


@dataclass(frozen=True)
class Vacation:
    """An automatic reply while away (Sieve ``vacation``; optional in the issue)."""

    subject: str
    body: str
    until: datetime | None = None


class MailStore(Protocol):
    """A mail backend. Every method may raise ``MailStoreError``."""

    def folders(self, mailbox: str) -> list[Folder]:
        """The folders of a mailbox; the inbox, sent and trash folders exist (created if not)."""
        ...

    def messages(
        self, mailbox: str, folder: str, *, page: int = 1, page_size: int = 50, query: str = ""
    ) -> MessagePage:
        """A page of the folder, newest first; ``query`` filters on sender or subject.

        Must not read every message of a large folder to show one page.
        """
        ...

    def message(self, mailbox: str, folder: str, uid: str) -> bytes:
        """The raw message (RFC 5322 bytes). Does not change its read flag."""
        ...

    def arrival(self, mailbox: str, folder: str, uid: str) -> datetime | None:
        """When the message arrived in the mailbox (aware), the date a message without a
        readable ``Date`` header is shown with, in the list as when it is opened."""
        ...

    def mark_read(self, mailbox: str, folder: str, uid: str, read: bool = True) -> None:
        """Set or clear the read flag."""
        ...

    def move(self, mailbox: str, folder: str, uid: str, destination: str) -> None:
        """Move a message to another folder of the same mailbox."""
        ...

    def delete(self, mailbox: str, folder: str, uid: str) -> None:
        """Move to the trash; a message already in the trash is removed for good."""
        ...

    def append(self, mailbox: str, folder: str, raw: bytes, *, read: bool = True) -> None:
        """Store a message in a folder (the copy of a sent message in "Envoyés")."""
        ...

    def forwarding(self, mailbox: str) -> Forwarding | None:
        """The forwarding rule in force, or None."""
        ...

    def forwarding_set(self, mailbox: str, rule: Forwarding | None) -> None:
        """Set (or, with None, remove) the forwarding rule; other filters of the student stay."""
        ...

    def vacation(self, mailbox: str) -> Vacation | None:
        """The automatic reply in force, or None."""
        ...

    def vacation_set(self, mailbox: str, vacation: Vacation | None) -> None:
        """Set or remove the automatic reply; other filters of the student stay."""
        ...
