"""``ent directory-sync``: a full reconciliation of ENT's branch of the LDAP directory.

The queue (``ent.directory.queue``) writes every change as it happens; this is the safety net
beside it, for a directory added later, restored from an old backup, or edited by hand:

1. Read the whole branch (``ENT_LDAP_PEOPLE_DN``, one level, by pages) and keep, per entry, a
   digest of its managed attributes: one hash per attribute of its *set* of values (the order
   of values means nothing in LDAP), and whether it has every object class of ENT's (a subset,
   compared without case: another system may add classes of its own).
2. Build ENT's entries from the database in chunks of ``CHUNK`` students (``entries_of``: two
   queries a chunk, whose ``IN`` lists stay far below SQLite's and PostgreSQL's parameter
   limits) and compare: each is in step, missing, or different (the attributes are named).
3. Fix through the queue, never directly: ``directory_changed`` marks the differing students
   waiting, then ``directory_queue_run`` claims and writes them like the worker does. A sync
   thus never overwrites a newer change that a worker is writing: the claimed, ordered path
   is the only one that writes an entry.
4. Entries of the branch whose DN is not the DN of any student are *unknown*: reported, and
   removed only when asked (``remove_unknown``), through ``ldap_client.delete``, which refuses
   any DN outside the branch. Nothing outside the branch is ever read or written.

With ``dry_run`` nothing is queued, written or removed: the report says what would be.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import ldap.dn
from django.db import transaction

from ent.core import clock

from . import ldap_client
from .ldap_entry import MANAGED_ATTRIBUTES, OBJECT_CLASSES
from .models import DirectoryEntry, Student
from .queue import (
    directory_changed,
    directory_enabled,
    directory_queue_run,
    dns_of,
    entries_of,
)

# Students built and compared at once: two queries with IN lists of this size.
# Writers in parallel for the fix (PostgreSQL; see ``directory_queue_run``).
WRITERS = 2
CHUNK = 2000
# The attributes compared as sets of values (objectClass is compared as a subset).
_COMPARED = tuple(a for a in MANAGED_ATTRIBUTES if a != "objectClass")
_BY_LOWER = {name.lower(): name for name in MANAGED_ATTRIBUTES}
_CANONICAL = frozenset(MANAGED_ATTRIBUTES)
_ENT_CLASSES = frozenset(c.lower() for c in OBJECT_CLASSES)
# A DN with nothing to unescape or normalise but case.
_PLAIN_DN = re.compile(r"[A-Za-z0-9._@-]+=[A-Za-z0-9._@-]+(?:,[A-Za-z0-9._@-]+=[A-Za-z0-9._@-]+)*")

# A directory entry, reduced to what the comparison needs (about 200 bytes, not kilobytes, so
# a branch of 100,000 entries stays small): whether it has ENT's object classes, then one hash
# per compared attribute of its set of values (None: absent).
Digest = tuple[bool, tuple[int | None, ...]]


class DirectoryNotConfigured(Exception):
    """``ENT_LDAP_URL`` is unset: there is no directory to reconcile."""


class _Out(Protocol):
    def write(self, text: str, /) -> Any: ...


@dataclass
class SyncReport:
    """What a reconciliation found (and, unless ``dry_run``, fixed)."""

    dry_run: bool
    in_step: int = 0
    missing: int = 0  # added (would be, with dry_run)
    different: int = 0  # fixed (would be, with dry_run)
    attributes: Counter[str] = field(default_factory=Counter)  # differing entries, by attribute
    unknown: int = 0  # reported
    removed: int = 0  # unknown entries removed (remove_unknown)
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        """Entries that were (or would be) written."""
        return self.missing + self.different


def dn_key(dn: str) -> str:
    """A DN in a form that compares as LDAP compares them (attribute types and the values of
    ENT's naming attributes ignore case; spacing and escaping are normalised)."""
    if _PLAIN_DN.fullmatch(dn):  # the usual case, 10 times faster than parsing
        return dn.lower()
    try:
        parts = ldap.dn.str2dn(dn)
    except ldap.DECODING_ERROR:
        return dn.lower()
    return str(ldap.dn.dn2str([[(a.lower(), v.lower(), f) for a, v, f in rdn] for rdn in parts]))


def digest(attributes: dict[str, list[str]]) -> Digest:
    """The digest of an entry's managed attributes, from the directory or from ENT."""
    if not _CANONICAL.issuperset(attributes):  # names in another case, or other attributes
        values: dict[str, list[str]] = {}
        for name, listed in attributes.items():
            canonical = _BY_LOWER.get(name.lower())
            if canonical is not None:
                values.setdefault(canonical, []).extend(listed)
        attributes = values
    get = attributes.get
    return (
        _ENT_CLASSES.issubset(c.lower() for c in get("objectClass", ())),
        tuple(hash(frozenset(v)) if (v := get(n)) else None for n in _COMPARED),
    )


def differing_attributes(found: Digest, wanted: Digest) -> list[str]:
    """The names of the managed attributes where two digests differ."""
    names = [] if found[0] or not wanted[0] else ["objectClass"]
    return names + [n for n, a, b in zip(_COMPARED, found[1], wanted[1], strict=True) if a != b]


def _branch(conn: Any) -> dict[str, tuple[str, Digest]]:
    """Every entry of the branch: its DN and digest, by ``dn_key``."""
    return {dn_key(dn): (dn, digest(attrs)) for dn, attrs in ldap_client.branch_entries(conn)}


class _BranchReader(threading.Thread):
    """``_branch`` in a thread: slapd sends the branch while ENT builds its own entries."""

    def __init__(self, conn: Any) -> None:
        super().__init__(name="ent-directory-sync-read", daemon=True)
        self.conn = conn
        self.found: dict[str, tuple[str, Digest]] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.found = _branch(self.conn)
        except BaseException as exc:  # handed to the caller's thread
            self.error = exc

    def result(self) -> dict[str, tuple[str, Digest]]:
        """The branch, once read (raises what the reading raised)."""
        self.join()
        if self.error is not None:
            raise self.error
        return self.found


def _student_chunks() -> Iterator[list[str]]:
    numbers = list(Student.objects.order_by("pk").values_list("student_number", flat=True))
    for start in range(0, len(numbers), CHUNK):
        yield numbers[start : start + CHUNK]


# One student as ENT sees it: number, DN, and the digest of its entry (None: not built).
_Ours = tuple[str, str, Digest | None]


def _ours(reader: _BranchReader) -> list[_Ours]:
    """ENT's side, built while the branch is read. An entry is built only to be compared:
    while the branch is still coming every entry is built; once it is read, only those
    whose DN is in it (a first synchronisation, into an empty branch, builds none here:
    each is built once, when the queue writes it)."""
    now = clock.now()
    ours: list[_Ours] = []
    for chunk in _student_chunks():
        dns = dns_of(chunk)
        wanted: Iterable[str] = dns
        if not reader.is_alive():
            found = reader.result()
            wanted = [n for n, dn in dns.items() if dn_key(dn) in found]
        entries = entries_of(wanted, now=now)
        for number, dn in dns.items():
            entry = entries.get(number)
            ours.append((number, dn, digest(entry.attributes) if entry is not None else None))
    return ours


def _compare(
    ours: list[_Ours], found: dict[str, tuple[str, Digest]], report: SyncReport, out: _Out | None
) -> list[str]:
    """Compare ENT's entries with the branch; the branch's matched entries are taken out of
    ``found`` (what remains is unknown). Returns the student numbers to write."""
    differing: list[str] = []
    for number, dn, wanted in ours:
        there = found.pop(dn_key(dn), None)
        if there is None:
            report.missing += 1
            differing.append(number)
            _say(out, f"missing: {dn}")
            continue
        assert wanted is not None, "built: the branch was read before this chunk"
        names = differing_attributes(there[1], wanted)
        if not names:
            report.in_step += 1
            continue
        report.different += 1
        report.attributes.update(names)
        differing.append(number)
        _say(out, f"different: {there[0]} ({', '.join(names)})")
    return differing


def _fix(numbers: Sequence[str], report: SyncReport) -> None:
    """Write the differing entries through the queue (the worker's claimed, ordered path)."""
    if not numbers:
        return
    with transaction.atomic():
        directory_changed(student_numbers=numbers)
    directory_queue_run(writers=WRITERS)
    for start in range(0, len(numbers), CHUNK):
        refused = DirectoryEntry.objects.filter(
            student_number__in=numbers[start : start + CHUNK], pending=True
        ).exclude(last_error="")
        report.errors += [
            f"{n}: {e}" for n, e in refused.values_list("student_number", "last_error")
        ]


def _unknown(
    conn: Any, unknown: list[str], report: SyncReport, out: _Out | None, *, remove: bool
) -> None:
    for dn in sorted(unknown, key=dn_key):
        report.unknown += 1
        if not remove:
            _say(out, f"unknown: {dn}")
            continue
        try:
            ldap_client.delete(conn, dn)
        except ldap_client.EntryRefused as exc:
            report.errors.append(f"{dn}: {exc}")
            _say(out, f"unknown, not removed: {dn} ({exc})")
            continue
        report.removed += 1
        _say(out, f"unknown, removed: {dn}")


def _say(out: _Out | None, line: str) -> None:
    if out is not None:
        out.write(line + "\n")


def directory_sync(*, dry_run: bool, remove_unknown: bool, out: _Out | None = None) -> SyncReport:
    """Reconcile ENT's branch with ENT's records (see the module); ``out`` gets one line per
    entry that differs or is unknown.

    Raises ``DirectoryNotConfigured`` when ``ENT_LDAP_URL`` is unset and
    ``ldap_client.DirectoryUnavailable`` when the directory cannot be reached (entries already
    queued then stay waiting for the worker).
    """
    if not directory_enabled():
        raise DirectoryNotConfigured("ENT_LDAP_URL is not set")
    report = SyncReport(dry_run=dry_run)
    conn = ldap_client.connect()
    try:
        reader = _BranchReader(conn)
        reader.start()
        try:
            ours = _ours(reader)
        finally:
            reader.join()
        found = reader.result()
        differing = _compare(ours, found, report, out)
        del ours
        unknown = [dn for dn, _digest in found.values()]
        del found
        _unknown(conn, unknown, report, out, remove=remove_unknown and not dry_run)
    finally:
        ldap_client.close(conn)
    if not dry_run:
        _fix(differing, report)
    return report
