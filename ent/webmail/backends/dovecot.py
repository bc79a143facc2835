"""The ``dovecot`` mail backend: mailboxes over IMAP, filters as a Sieve script over ManageSieve.

ENT signs in to Dovecot as the student through a **master user**: SASL PLAIN with an
authorization identity (authcid = ``settings.IMAP_MASTER_USER``, authzid = the student's
institutional address, password read from ``settings.IMAP_MASTER_PASSWORD_FILE``). The same
mechanism works on IMAP and on ManageSieve, and unlike the ``student*master`` LOGIN form it needs
no separator character that an address could contain. The README's Dovecot 2.3 example
(``docs/dovecot/ent-dovecot.conf``) configures the master passdb; the tests run Dovecot with it.

Every public method opens its own connection and closes it before returning: nothing is kept
between calls, so any number of web instances share nothing but Dovecot itself.

The forwarding rule and the automatic reply live in ENT's own Sieve script, ``ent-filters``.
Scripts the student already had are never overwritten: if another script was active, ENT's
script includes it (``include :personal``, Pigeonhole's ``include`` extension) after ENT's own
rules and becomes the active script; removing every ENT rule gives the student's script its
active place back. A marker comment in the script (a line of JSON) is what ``forwarding()`` and
``vacation()`` read back.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import ssl
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.headerregistry import Address
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sievelib import managesieve

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

#: The name of ENT's Sieve script in every student's ManageSieve account.
SCRIPT_NAME = "ent-filters"
#: The first characters of the marker line that ENT reads back (JSON follows).
MARKER = "# ent-filters: "
#: Names created for the special-use folders a server does not provide.
_CREATED_NAMES = {FolderRole.SENT: "Sent", FolderRole.TRASH: "Trash", FolderRole.DRAFTS: "Drafts"}
_SPECIAL_USE = {
    b"\\sent": FolderRole.SENT,
    b"\\trash": FolderRole.TRASH,
    b"\\drafts": FolderRole.DRAFTS,
    b"\\junk": FolderRole.JUNK,
}
# A server without SPECIAL-USE (or folders made by another client): the usual names.
_ROLE_BY_NAME = {
    "sent": FolderRole.SENT,
    "sent items": FolderRole.SENT,
    "sent messages": FolderRole.SENT,
    "envoyés": FolderRole.SENT,
    "trash": FolderRole.TRASH,
    "deleted items": FolderRole.TRASH,
    "deleted messages": FolderRole.TRASH,
    "corbeille": FolderRole.TRASH,
    "drafts": FolderRole.DRAFTS,
    "brouillons": FolderRole.DRAFTS,
    "junk": FolderRole.JUNK,
    "spam": FolderRole.JUNK,
    "indésirables": FolderRole.JUNK,
}
_ROLE_ORDER = [
    FolderRole.INBOX,
    FolderRole.DRAFTS,
    FolderRole.SENT,
    FolderRole.TRASH,
    FolderRole.JUNK,
    FolderRole.OTHER,
]
_UID = re.compile(r"[1-9][0-9]{0,9}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# An address that a Sieve ``redirect`` may name: no spaces, quotes, angle brackets or controls.
_ADDRESS = re.compile(r"[^\s\"<>()\\,;:@]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+")


def _read_secret(path: str) -> str:
    """The master password from its file (first line), never from the environment."""
    try:
        secret = Path(path).read_text(encoding="utf-8").splitlines()[0].strip()
    except (OSError, IndexError, UnicodeDecodeError) as exc:
        raise MailStoreError(f"cannot read the IMAP master password file {path!r}") from exc
    if not secret:
        raise MailStoreError(f"the IMAP master password file {path!r} is empty")
    return secret


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _decode(value: bytes | str | None) -> str:
    """An RFC 2047 header value (``=?utf-8?q?...?=``) as text; undecodable parts kept as is."""
    if value is None:
        return ""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    try:
        return str(make_header(decode_header(text)))
    except (ValueError, LookupError, UnicodeError):
        return text


def _sender(envelope: Any) -> str:
    """ "Prénom Nom <adresse@exemple.fr>" from the first From address of an ENVELOPE."""
    if envelope is None or not envelope.from_:
        return ""
    first = envelope.from_[0]
    name = _decode(first.name)
    mailbox = (first.mailbox or b"").decode("utf-8", "replace")
    host = (first.host or b"").decode("utf-8", "replace")
    addr = f"{mailbox}@{host}" if host else mailbox
    if not name:
        return addr
    try:
        return str(Address(display_name=name, addr_spec=addr))
    except (ValueError, IndexError):
        return f"{name} <{addr}>"


def _has_attachments(structure: Any) -> bool:
    """Whether a BODYSTRUCTURE names an attachment (a disposition, or a part with a file name)."""

    def walk(part: Any) -> bool:
        if isinstance(part, list):
            return any(walk(p) for p in part)
        if not isinstance(part, tuple):
            return False
        if part and isinstance(part[0], list):  # multipart: (parts, subtype, ...)
            return walk(part[0])
        if part and isinstance(part[0], bytes) and len(part) > 2:
            for item in part[7:]:
                if (
                    isinstance(item, tuple)
                    and item
                    and isinstance(item[0], bytes)
                    and item[0].lower() == b"attachment"
                ):
                    return True
            params = part[2] if isinstance(part[2], tuple) else ()
            if part[0].lower() not in (b"text", b"multipart"):
                names = [p.lower() for p in params[::2] if isinstance(p, bytes)]
                return b"name" in names
        return False

    return walk(structure)


def _check_uid(uid: str) -> int:
    """An IMAP UID from the URL: digits only (a forged value never reaches the server)."""
    if not isinstance(uid, str) or not _UID.fullmatch(uid) or int(uid) >= 2**32:
        raise MessageNotFound(f"invalid message id {uid!r}")
    return int(uid)


def _check_folder(folder: str) -> str:
    if not folder or _CONTROL.search(folder):
        raise MailStoreError("invalid folder name")
    return folder


def sieve_string(value: str) -> str:
    """A Sieve quoted string (RFC 5228 §2.4.2): backslash and double quote escaped.

    Line breaks are legal inside a quoted string and cannot end it, so escaping these two
    characters is enough for the body of an automatic reply. ENT's script requires neither
    ``variables`` nor ``encoded-character``, so ``${...}`` stays literal text.
    """
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class _Rules:
    """What ENT's script holds: the rules and the student's script it includes."""

    forwarding: Forwarding | None = None
    vacation: Vacation | None = None
    include: str | None = None

    def to_json(self) -> str:
        data: dict[str, Any] = {"v": 1}
        if self.forwarding:
            data["forward"] = {
                "address": self.forwarding.address,
                "keep_copy": self.forwarding.keep_copy,
            }
        if self.vacation:
            data["vacation"] = {
                "subject": self.vacation.subject,
                "body": self.vacation.body,
                "until": self.vacation.until.isoformat() if self.vacation.until else None,
            }
        if self.include:
            data["include"] = self.include
        # ensure_ascii escapes every line break (U+2028 included): the comment stays one line.
        return json.dumps(data, ensure_ascii=True, sort_keys=True)

    @classmethod
    def from_script(cls, script: str | None) -> _Rules:
        """Read the marker line back; a script without one (or a broken one) holds nothing."""
        for line in (script or "").splitlines():
            if not line.startswith(MARKER):
                continue
            try:
                data = json.loads(line[len(MARKER) :])
                forward = data.get("forward")
                vacation = data.get("vacation")
                until = vacation.get("until") if vacation else None
                return cls(
                    forwarding=Forwarding(str(forward["address"]), bool(forward["keep_copy"]))
                    if forward
                    else None,
                    vacation=Vacation(
                        subject=str(vacation["subject"]),
                        body=str(vacation["body"]),
                        until=datetime.fromisoformat(until) if until else None,
                    )
                    if vacation
                    else None,
                    include=str(data["include"]) if data.get("include") else None,
                )
            except (ValueError, TypeError, KeyError, AttributeError):
                return cls()
        return cls()

    def script(self) -> str:
        """The Sieve text: ENT's rules first (a ``stop`` in the student's script cannot skip
        them), then the student's own script."""
        requires = []
        body = []
        if self.forwarding:
            address = self.forwarding.address
            if self.forwarding.keep_copy:
                requires.append("copy")
                body.append(f"redirect :copy {sieve_string(address)};")
            else:
                body.append(f"redirect {sieve_string(address)};")
        if self.vacation:
            requires.append("vacation")
            action = (
                f"vacation :days 7 :subject {sieve_string(self.vacation.subject)} "
                f"{sieve_string(self.vacation.body)};"
            )
            if self.vacation.until:
                requires += ["date", "relational"]
                until = self.vacation.until.astimezone(UTC)
                day, time = until.strftime("%Y-%m-%d"), until.strftime("%H:%M:%S")
                zone = 'currentdate :zone "+0000" :value'
                body.append(
                    f'if anyof ({zone} "lt" "date" "{day}",\n'
                    f'          allof ({zone} "eq" "date" "{day}",\n'
                    f'                 {zone} "le" "time" "{time}")) {{\n'
                    f"  {action}\n}}"
                )
            else:
                body.append(action)
        if self.include:
            requires.append("include")
            body.append(f"include :personal :optional {sieve_string(self.include)};")
        lines = [
            "# ENT webmail filters (Courrier > Filtres). Written by ENT: changes made here are",
            "# replaced. Your own rules belong in your own script, which this one includes.",
            MARKER + self.to_json(),
        ]
        if requires:
            lines.append("require [" + ", ".join(sieve_string(r) for r in requires) + "];")
        return "\n".join(lines + body) + "\n"


def _aware(when: datetime | None) -> datetime | None:
    """A date from IMAP, aware (a naive one is taken as UTC, as the list always did)."""
    if when is not None and when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when


class DovecotStore:
    """The MailStore of a Dovecot 2.3 server (IMAP + ManageSieve, master user)."""

    timeout = 15.0

    def __init__(
        self,
        *,
        imap_url: str | None = None,
        managesieve_url: str | None = None,
        master_user: str | None = None,
        master_password_file: str | None = None,
    ) -> None:
        self.imap_url = imap_url or settings.IMAP_URL
        self.managesieve_url = managesieve_url or settings.MANAGESIEVE_URL
        self.master_user = master_user or settings.IMAP_MASTER_USER
        self.master_password_file = master_password_file or settings.IMAP_MASTER_PASSWORD_FILE

    # --- connections -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _imap(self, mailbox: str) -> Iterator[IMAPClient]:
        """An IMAP session as ``mailbox``; every protocol or network error is a MailStoreError."""
        url = urlsplit(self.imap_url)
        if url.scheme not in ("imap", "imaps") or not url.hostname:
            raise MailStoreError(f"ENT_IMAP_URL: expected imap:// or imaps://, got {url.scheme}")
        use_ssl = url.scheme == "imaps"
        password = _read_secret(self.master_password_file)
        if not mailbox or _CONTROL.search(mailbox):
            raise MailStoreError("invalid mailbox name")
        client: IMAPClient | None = None
        try:
            client = IMAPClient(
                url.hostname,
                url.port or (993 if use_ssl else 143),
                ssl=use_ssl,
                ssl_context=ssl.create_default_context() if use_ssl else None,
                timeout=self.timeout,
            )
            client.normalise_times = False  # keep the Date header's own offset (aware datetimes)
            if not use_ssl and client.has_capability("STARTTLS"):
                client.starttls(ssl.create_default_context())
            client.plain_login(self.master_user, password, authorization_identity=mailbox)
            yield client
        except MailStoreError:
            raise
        except (IMAPClientError, OSError, ValueError) as exc:
            # The text of the server's refusal is logged by the view; it never names the secret.
            raise MailStoreError(f"IMAP: {exc}") from exc
        finally:
            if client is not None:
                with contextlib.suppress(Exception):
                    client.logout()

    @contextlib.contextmanager
    def _sieve(self, mailbox: str) -> Iterator[managesieve.Client]:
        """A ManageSieve session as ``mailbox`` (SASL PLAIN with the authorization identity)."""
        url = urlsplit(self.managesieve_url)
        if url.scheme != "sieve" or not url.hostname:
            raise MailStoreError(f"ENT_MANAGESIEVE_URL: expected sieve://, got {url.scheme}")
        password = _read_secret(self.master_password_file)
        if not mailbox or _CONTROL.search(mailbox):
            raise MailStoreError("invalid mailbox name")
        client = managesieve.Client(url.hostname, url.port or 4190)
        try:
            with warnings.catch_warnings():
                # sievelib warns on a plaintext connection: expected on the loopback interface
                # (a local Dovecot); elsewhere STARTTLS is used whenever the server offers it.
                if _is_loopback(url.hostname):
                    warnings.simplefilter("ignore")
                ok = client.connect(self.master_user, password, authz_id=mailbox, authmech="PLAIN")
            if not ok:
                raise MailStoreError("ManageSieve: authentication refused")
            yield client
        except MailStoreError:
            raise
        except (managesieve.Error, OSError, KeyError, ValueError) as exc:
            raise MailStoreError(f"ManageSieve: {exc}") from exc
        finally:
            if client.sock is not None:
                with contextlib.suppress(Exception):
                    client.logout()
                with contextlib.suppress(Exception):
                    client.sock.close()
                client.sock = None

    # --- folders -------------------------------------------------------------------------
    def _list(self, client: IMAPClient) -> list[tuple[str, FolderRole]]:
        found: list[tuple[str, FolderRole]] = []
        for flags, _delimiter, name in client.list_folders():
            lowered = {f.lower() for f in flags}
            if b"\\noselect" in lowered or b"\\nonexistent" in lowered:
                continue
            name = str(name)
            if name.upper() == "INBOX":
                role = FolderRole.INBOX
            else:
                role = next((r for f, r in _SPECIAL_USE.items() if f in lowered), None) or (
                    _ROLE_BY_NAME.get(name.lower(), FolderRole.OTHER)
                )
            found.append((name, role))
        return found

    def _ensure_folders(self, client: IMAPClient) -> list[tuple[str, FolderRole]]:
        """The folder list, after creating Sent/Trash/Drafts if the server has none."""
        found = self._list(client)
        roles = {role for _name, role in found}
        missing = [role for role in _CREATED_NAMES if role not in roles]
        for role in missing:
            name = _CREATED_NAMES[role]
            if not client.folder_exists(name):
                client.create_folder(name)
            with contextlib.suppress(IMAPClientError):
                client.subscribe_folder(name)
        return self._list(client) if missing else found

    def _role_folder(self, client: IMAPClient, role: FolderRole) -> str:
        for name, found in self._ensure_folders(client):
            if found == role:
                return name
        raise MailStoreError(f"no {role} folder")

    def folders(self, mailbox: str) -> list[Folder]:
        """Every selectable folder with its counts (STATUS), inbox first."""
        with self._imap(mailbox) as client:
            result = []
            for name, role in self._ensure_folders(client):
                status = client.folder_status(name, [b"MESSAGES", b"UNSEEN"])
                result.append(
                    Folder(
                        name=name,
                        role=role,
                        total=int(status[b"MESSAGES"]),
                        unread=int(status[b"UNSEEN"]),
                    )
                )
        # A stable order: special folders by role (first of each role), then the others by name.
        return sorted(result, key=lambda f: (_ROLE_ORDER.index(f.role), f.name.lower()))

    # --- messages ------------------------------------------------------------------------
    def messages(
        self, mailbox: str, folder: str, *, page: int = 1, page_size: int = 50, query: str = ""
    ) -> MessagePage:
        """One page, newest first: SORT (ARRIVAL) (or SEARCH and UIDs), read backwards,
        then FETCH of the page's UIDs only, so a 10,000-message folder costs one page."""
        page = max(1, int(page))
        page_size = max(1, int(page_size))
        # Controls would end the IMAP command line: a search is words, so they become spaces.
        words = " ".join(_CONTROL.sub(" ", query or "").split())
        criteria: list[Any] = ["OR", "FROM", words, "SUBJECT", words] if words else ["ALL"]
        with self._imap(mailbox) as client:
            client.select_folder(_check_folder(folder), readonly=True)
            if client.has_capability("SORT"):
                # SORT (ARRIVAL), reversed here rather than SORT (REVERSE ARRIVAL): Dovecot
                # breaks ties (same second) by ascending sequence even under REVERSE, which
                # would list mail delivered in one second oldest first.
                uids = client.sort(["ARRIVAL"], criteria, charset="UTF-8")[::-1]
            else:
                uids = sorted(client.search(criteria, charset="UTF-8"), reverse=True)
            start = (page - 1) * page_size
            chosen = uids[start : start + page_size]
            data = (
                client.fetch(
                    chosen, ["ENVELOPE", "FLAGS", "RFC822.SIZE", "BODYSTRUCTURE", "INTERNALDATE"]
                )
                if chosen
                else {}
            )
        summaries = []
        for uid in chosen:
            item = data.get(uid)
            if item is None:  # expunged between SORT and FETCH
                continue
            envelope = item.get(b"ENVELOPE")
            when = envelope.date if envelope is not None else None
            if when is None:  # no readable Date header: the arrival time
                when = item.get(b"INTERNALDATE")
            when = _aware(when)
            flags = {f.lower() for f in item.get(b"FLAGS", ())}
            summaries.append(
                MessageSummary(
                    uid=str(uid),
                    sender=_sender(envelope),
                    subject=_decode(envelope.subject if envelope is not None else None),
                    date=when,
                    unread=b"\\seen" not in flags,
                    size=int(item.get(b"RFC822.SIZE", 0)),
                    has_attachments=_has_attachments(item.get(b"BODYSTRUCTURE")),
                )
            )
        return MessagePage(messages=summaries, total=len(uids), page=page, page_size=page_size)

    def _exists(self, client: IMAPClient, uid: int) -> None:
        if not client.search(["UID", str(uid)]):
            raise MessageNotFound(f"no message {uid}")

    def message(self, mailbox: str, folder: str, uid: str) -> bytes:
        """BODY.PEEK[]: the raw message, and the \\Seen flag stays as it was."""
        number = _check_uid(uid)
        with self._imap(mailbox) as client:
            client.select_folder(_check_folder(folder), readonly=True)
            data = client.fetch([number], ["BODY.PEEK[]"]).get(number)
        if not data or b"BODY[]" not in data:
            raise MessageNotFound(f"no message {uid}")
        return bytes(data[b"BODY[]"])

    def arrival(self, mailbox: str, folder: str, uid: str) -> datetime | None:
        """INTERNALDATE: the arrival time, as the list shows it for a message without Date."""
        number = _check_uid(uid)
        with self._imap(mailbox) as client:
            client.select_folder(_check_folder(folder), readonly=True)
            data = client.fetch([number], ["INTERNALDATE"]).get(number)
        if not data:
            raise MessageNotFound(f"no message {uid}")
        return _aware(data.get(b"INTERNALDATE"))

    def mark_read(self, mailbox: str, folder: str, uid: str, read: bool = True) -> None:
        """Add or remove \\Seen."""
        number = _check_uid(uid)
        with self._imap(mailbox) as client:
            client.select_folder(_check_folder(folder))
            self._exists(client, number)
            if read:
                client.add_flags([number], [b"\\Seen"], silent=True)
            else:
                client.remove_flags([number], [b"\\Seen"], silent=True)

    def _move(self, client: IMAPClient, uid: int, destination: str) -> None:
        if client.has_capability("MOVE"):
            client.move([uid], destination)
        else:
            client.copy([uid], destination)
            client.add_flags([uid], [b"\\Deleted"], silent=True)
            client.uid_expunge([uid])

    def move(self, mailbox: str, folder: str, uid: str, destination: str) -> None:
        """UID MOVE (or COPY, \\Deleted and UID EXPUNGE) to another folder."""
        number = _check_uid(uid)
        with self._imap(mailbox) as client:
            client.select_folder(_check_folder(folder))
            self._exists(client, number)
            if not client.folder_exists(_check_folder(destination)):
                raise MailStoreError(f"no folder {destination!r}")
            self._move(client, number, destination)

    def delete(self, mailbox: str, folder: str, uid: str) -> None:
        """To the trash; from the trash, \\Deleted and UID EXPUNGE of that message only."""
        number = _check_uid(uid)
        with self._imap(mailbox) as client:
            trash = self._role_folder(client, FolderRole.TRASH)
            client.select_folder(_check_folder(folder))
            self._exists(client, number)
            if folder == trash:
                client.add_flags([number], [b"\\Deleted"], silent=True)
                client.uid_expunge([number])
            else:
                self._move(client, number, trash)

    def append(self, mailbox: str, folder: str, raw: bytes, *, read: bool = True) -> None:
        """APPEND, with \\Seen when ``read``."""
        with self._imap(mailbox) as client:
            client.append(_check_folder(folder), raw, flags=[b"\\Seen"] if read else [])

    # --- filters -------------------------------------------------------------------------
    def _rules(self, client: managesieve.Client) -> tuple[_Rules, str | None, list[str]]:
        """ENT's rules in force (only if ENT's script is the active one), the active script,
        and every script name."""
        listing = client.listscripts()
        if listing is None:
            raise MailStoreError("ManageSieve: cannot list the scripts")
        active, others = listing
        names = list(others) + ([active] if active else [])
        if active != SCRIPT_NAME:
            return _Rules(), active, names
        return _Rules.from_script(client.getscript(SCRIPT_NAME)), active, names

    def _write(self, mailbox: str, change: Callable[[_Rules], _Rules]) -> None:
        with self._sieve(mailbox) as client:
            rules, active, names = self._rules(client)
            if active and active != SCRIPT_NAME:
                include: str | None = active  # the student's script: kept, and included
            else:
                include = rules.include if rules.include in names else None
            new = change(replace(rules, include=include))
            if new.forwarding is None and new.vacation is None:
                # Nothing of ENT's left: the student's script (if any) is active again.
                if active == SCRIPT_NAME and not client.setactive(include or ""):
                    raise MailStoreError(f"ManageSieve: {client.errmsg!r}")
                if SCRIPT_NAME in names and not client.deletescript(SCRIPT_NAME):
                    raise MailStoreError(f"ManageSieve: {client.errmsg!r}")
                return
            if not client.putscript(SCRIPT_NAME, new.script()):
                raise MailStoreError(f"ManageSieve: script refused: {client.errmsg!r}")
            if active != SCRIPT_NAME and not client.setactive(SCRIPT_NAME):
                raise MailStoreError(f"ManageSieve: {client.errmsg!r}")

    def forwarding(self, mailbox: str) -> Forwarding | None:
        """The redirect of ENT's script, when that script is the active one."""
        with self._sieve(mailbox) as client:
            return self._rules(client)[0].forwarding

    def forwarding_set(self, mailbox: str, rule: Forwarding | None) -> None:
        """``redirect :copy "addr";`` (copy kept) or ``redirect "addr";``; None removes it."""
        if rule is not None and not _ADDRESS.fullmatch(rule.address):
            # The views validate addresses; this guard keeps any caller from writing Sieve.
            raise MailStoreError("invalid forwarding address")
        self._write(mailbox, lambda rules: replace(rules, forwarding=rule))

    def vacation(self, mailbox: str) -> Vacation | None:
        """The automatic reply of ENT's script, when that script is the active one."""
        with self._sieve(mailbox) as client:
            return self._rules(client)[0].vacation

    def vacation_set(self, mailbox: str, vacation: Vacation | None) -> None:
        """``vacation :days 7 :subject ...`` (inside a date test when ``until`` is given)."""
        if vacation is not None:
            if vacation.until is not None and vacation.until.tzinfo is None:
                raise MailStoreError("vacation end must be an aware datetime")
            # A subject is one header line: line breaks there would be refused by Pigeonhole.
            vacation = Vacation(
                subject=" ".join(_CONTROL.sub(" ", vacation.subject).split()),
                body=re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", vacation.body)
                .replace("\r\n", "\n")
                .replace("\r", "\n"),
                until=vacation.until,
            )
        self._write(mailbox, lambda rules: replace(rules, vacation=vacation))


__all__ = ["SCRIPT_NAME", "DovecotStore", "sieve_string"]
