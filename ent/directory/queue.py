"""The directory writer: every account or student change reaches the LDAP directory, in order.

How a change travels (issue 15, "nothing lost, nothing out of order"), like the mail queue:

1. The transaction that changes a student record or an account also marks the student's
   ``DirectoryEntry`` waiting, with a fresh ``change`` token (``directory_changed``): the
   state machine's signal (``account_state_changed``), any save of an account's password,
   personal address or forwarding rule, any save of a student record, the import (in bulk)
   and the purge. A rolled-back change queues nothing; a committed one always waits.
   Nothing is queued while ``ENT_LDAP_URL`` is unset (``ent directory-sync`` writes the whole
   branch when a directory is added later).
2. ``ent worker`` (``DirectoryWorkerThread``) claims the waiting rows, oldest first, for a lease
   (``select_for_update(skip_locked=True)``: two workers never write the same entry at once),
   builds each entry from ENT's records **as they are at that moment** and replaces its whole
   managed attribute set (``ldap_client.write_many``): the write is idempotent, so a retry
   never harms.
3. The row is cleared only if its ``change`` is still the claimed token. A change committed
   during the write leaves it waiting, and the next write carries it: an earlier change can
   never be the last one written. A retry reads the records again, so it is never older
   than what was written before it.
4. The directory unreachable: the claimed rows go back to waiting with the error, and the
   worker tries again after a delay that doubles up to ``DIRECTORY_RETRY_MAX_SECONDS``;
   activations and every other change go on meanwhile. An entry the directory refuses (a
   value its schema rejects) keeps its error for the help desk and is retried later; the
   others are written.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Count, Min, Q
from django.db.models.signals import post_save
from django.dispatch import receiver

from ent.accounts.lifecycle import account_state_changed
from ent.accounts.models import Account
from ent.core import clock

from . import ldap_client
from .ldap_entry import Entry, dn_from, dn_of, entry_for
from .models import DirectoryEntry, Student

logger = logging.getLogger(__name__)

# How many waiting rows one worker claims and writes at once, and for how long it holds them
# (far longer than a batch takes: OPERATION_TIMEOUT bounds each answer).
BATCH = 500
LEASE_SECONDS = 120
# Retry delays: the directory unreachable (short, so it catches up soon after it is back),
# and an entry it refused (doubling, at most an hour).
DIRECTORY_RETRY_MAX_SECONDS = 10.0
ENTRY_RETRY_MAX_SECONDS = 3600.0
# Account fields the directory entry is built from: a save of any other field queues nothing.
_ACCOUNT_FIELDS = frozenset(
    {
        "password",
        "state",
        "personal_email",
        "personal_email_verified_at",
        "activated_at",
        "forwarding_address",
        "student",
        "student_id",
        "kind",
    }
)


def directory_enabled() -> bool:
    """Whether ENT writes a directory (``ENT_LDAP_URL`` set)."""
    return bool(settings.LDAP_URL)


def directory_changed(*, student_numbers: Iterable[str]) -> None:
    """Mark these students' entries waiting, in the caller's transaction (see the module)."""
    if not directory_enabled():
        return
    now = clock.now()
    token = uuid.uuid4().hex
    rows = [
        DirectoryEntry(
            student_number=number,
            pending=True,
            change=token,
            changed_at=now,
            next_attempt_at=now,
        )
        for number in dict.fromkeys(student_numbers)
    ]
    if not rows:
        return
    DirectoryEntry.objects.bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["student_number"],
        update_fields=["pending", "change", "changed_at", "next_attempt_at"],
    )


@receiver(account_state_changed, dispatch_uid="ent.directory.queue.state_changed")
def _state_changed(sender: Any, *, account: Account, **_kwargs: Any) -> None:
    """A new account state: its ``supannRessourceEtatDate`` and ``userPassword`` change."""
    student = account.student if account.kind == Account.Kind.STUDENT else None
    if student is not None:
        directory_changed(student_numbers=[student.student_number])


@receiver(post_save, sender=Account, dispatch_uid="ent.directory.queue.account_saved")
def _account_saved(
    sender: Any, *, instance: Account, update_fields: Iterable[str] | None, **_kwargs: Any
) -> None:
    """A password, personal address or forwarding rule saved: the entry follows. (A save of
    the state by the state machine is queued by its signal, above: not twice.)"""
    if instance.kind != Account.Kind.STUDENT or instance.student_id is None:
        return
    if update_fields is not None and (
        "state" in update_fields or not _ACCOUNT_FIELDS.intersection(update_fields)
    ):
        return
    if not directory_enabled():
        return
    if Account.student.is_cached(instance) and instance.student is not None:
        number: str | None = instance.student.student_number
    else:
        number = (
            Student.objects.filter(pk=instance.student_id)
            .values_list("student_number", flat=True)
            .first()
        )
    if number is not None:
        directory_changed(student_numbers=[number])


@receiver(post_save, sender=Student, dispatch_uid="ent.directory.queue.student_saved")
def _student_saved(sender: Any, *, instance: Student, **_kwargs: Any) -> None:
    """A student record changed by the help desk (an update request): names, INE, birth date."""
    directory_changed(student_numbers=[instance.student_number])


# --- The writer ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claimed:
    pk: int
    student_number: str
    change: str
    dn: str
    claim: str


def _claim(limit: int) -> list[_Claimed]:
    """Claim up to ``limit`` waiting rows that are due, oldest first, for ``LEASE_SECONDS``.

    The rows are taken by a conditional UPDATE that sets this claim's token, then read back by
    it: two writers never hold one row, on SQLite (which has no ``SKIP LOCKED``) as on
    PostgreSQL (where ``SKIP LOCKED`` keeps them from even waiting on each other).
    """
    now = clock.now()
    token = uuid.uuid4().hex
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    with transaction.atomic():
        candidates = list(
            DirectoryEntry.objects.select_for_update(skip_locked=True)
            .filter(free, pending=True, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        if not candidates:
            return []
        DirectoryEntry.objects.filter(free, pk__in=candidates, pending=True).update(
            claimed_until=now + timedelta(seconds=LEASE_SECONDS), claimed_by=token
        )
        rows = DirectoryEntry.objects.filter(pk__in=candidates, claimed_by=token)
        claimed = [
            _Claimed(*row, token)
            for row in rows.order_by("next_attempt_at", "id").values_list(
                "pk", "student_number", "change", "dn"
            )
        ]
    return claimed


class _StudentRow(NamedTuple):
    pk: int
    student_number: str
    ine: str
    last_name: str
    first_name: str
    birth_date: date
    program: str
    institutional_email: str


class _AccountRow(NamedTuple):
    kind: str
    state: str
    student_id: int
    password: str
    personal_email: str
    personal_email_verified_at: datetime | None
    activated_at: datetime | None
    forwarding_address: str


def dns_of(numbers: Iterable[str]) -> dict[str, str]:
    """The DN of each of these students' entries (one query; no entry built)."""
    return {
        number: dn_from(number, address)
        for number, address in Student.objects.filter(student_number__in=list(numbers)).values_list(
            "student_number", "institutional_email"
        )
    }


def entries_of(numbers: Iterable[str], *, now: datetime) -> dict[str, Entry]:
    """The entries of these students as ENT's records say now (two queries).

    Rows are read with ``values_list`` into named tuples, not models: a resynchronisation
    builds 100,000 entries, and model instances cost ten times more than the entries.
    """
    students = {
        row.pk: row
        for row in map(
            _StudentRow._make,
            Student.objects.filter(student_number__in=list(numbers)).values_list(
                *_StudentRow._fields
            ),
        )
    }
    accounts = {
        row.student_id: row
        for row in map(
            _AccountRow._make,
            Account.objects.filter(
                kind=Account.Kind.STUDENT, student_id__in=list(students)
            ).values_list(*_AccountRow._fields),
        )
    }
    out = {}
    for pk, student in students.items():
        account = accounts.get(pk)
        forwarding = account.forwarding_address if account is not None else ""
        out[student.student_number] = entry_for(
            student, account, forwarding=forwarding or None, now=now
        )
    return out


def _apply_claimed(conn: Any, claimed: list[_Claimed]) -> int:
    """Write the claimed rows' entries; record each outcome. Returns how many were written.

    Raises ``DirectoryUnavailable`` (the caller puts the rows back) when the connection fails.
    """
    now = clock.now()
    entries = entries_of([c.student_number for c in claimed], now=now)
    errors: dict[int, str] = {}
    to_write: list[tuple[_Claimed, Entry]] = []
    for row in claimed:
        entry = entries.get(row.student_number)
        try:
            if entry is None:  # purged: the entry leaves the directory
                if row.dn:
                    ldap_client.delete(conn, row.dn)
                continue
            if row.dn and row.dn.lower() != entry.dn.lower():
                ldap_client.rename(conn, row.dn, entry.dn)
        except ldap_client.EntryRefused as exc:
            errors[row.pk] = str(exc)
            continue
        to_write.append((row, entry))
    outcomes = ldap_client.write_many(
        conn, [e for _r, e in to_write], new=[not r.dn for r, _e in to_write]
    )
    for (row, _entry), outcome in zip(to_write, outcomes, strict=True):
        if outcome.error is not None:
            errors[row.pk] = outcome.error
    _record(claimed, entries, errors)
    return len(claimed) - len(errors)


def _record(claimed: list[_Claimed], entries: dict[str, Entry], errors: dict[int, str]) -> None:
    """Clear the rows written (unless changed meanwhile); keep the error of the others.

    A few statements per batch, not per row: rows are grouped by the token they were claimed
    with (a change queues one token for all its students).
    """
    now = clock.now()
    claim = claimed[0].claim if claimed else ""
    written: dict[str, list[int]] = {}
    moved: list[tuple[int, str]] = []
    for row in claimed:
        if row.pk in errors:
            continue
        written.setdefault(row.change, []).append(row.pk)
        entry = entries.get(row.student_number)
        dn = entry.dn if entry is not None else ""
        if dn != row.dn:
            moved.append((row.pk, dn))
    with transaction.atomic():
        # A first write sets every row's DN: one statement sent for all (psycopg pipelines an
        # executemany; Django's bulk_update builds a CASE per row, ten times slower here).
        if moved:
            table = connection.ops.quote_name(DirectoryEntry._meta.db_table)
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {table} SET dn = %s WHERE id = %s",  # noqa: S608 (a constant name)
                    [(dn, pk) for pk, dn in moved],
                )
        for change, pks in written.items():
            for start in range(0, len(pks), 900):
                chunk = pks[start : start + 900]
                # Only rows still held by this claim, and still at the change that was
                # claimed: a change made meanwhile stays waiting, and is written next.
                held = DirectoryEntry.objects.filter(pk__in=chunk, claimed_by=claim)
                held.filter(change=change).update(
                    pending=False,
                    applied_at=now,
                    attempts=0,
                    last_error="",
                    claimed_until=None,
                    claimed_by="",
                )
                held.exclude(change=change).update(claimed_until=None, claimed_by="", last_error="")
        for pk, error in errors.items():
            rows = DirectoryEntry.objects.filter(pk=pk, claimed_by=claim)
            current = rows.values_list("attempts", flat=True).first() or 0
            delay = min(2.0**current, ENTRY_RETRY_MAX_SECONDS)
            logger.warning("directory: entry refused (row %s): %s", pk, error)
            rows.update(
                attempts=current + 1,
                last_error=error[:1000],
                next_attempt_at=now + timedelta(seconds=delay),
                claimed_until=None,
                claimed_by="",
            )


def _release(claimed: list[_Claimed], error: str, delay: float) -> None:
    """Put claimed rows back, waiting for the directory to come back."""
    if not claimed:
        return
    DirectoryEntry.objects.filter(
        pk__in=[c.pk for c in claimed], claimed_by=claimed[0].claim
    ).update(
        claimed_until=None,
        claimed_by="",
        last_error=error[:1000],
        next_attempt_at=clock.now() + timedelta(seconds=delay),
    )


class Writer:
    """One connection and the loop that empties the queue through it."""

    def __init__(self) -> None:
        self.conn: Any = None
        self.failures = 0

    def _connection(self) -> Any:
        if self.conn is None:
            self.conn = ldap_client.connect()
        return self.conn

    def close(self) -> None:
        """Unbind."""
        if self.conn is not None:
            ldap_client.close(self.conn)
            self.conn = None

    def run_once(self, *, limit: int | None = None) -> int:
        """Claim and write one batch; returns how many rows were claimed (0: nothing due).

        Raises ``DirectoryUnavailable`` after putting the batch back.
        """
        claimed = _claim(limit or BATCH)
        if not claimed:
            return 0
        try:
            _apply_claimed(self._connection(), claimed)
        except ldap_client.DirectoryUnavailable as exc:
            self.close()
            self.failures += 1
            delay = min(2.0 ** (self.failures - 1), DIRECTORY_RETRY_MAX_SECONDS)
            _release(claimed, str(exc), delay)
            raise
        except BaseException:
            _release(claimed, "interrupted", 0.0)
            raise
        self.failures = 0
        return len(claimed)


def _run_until_empty(totals: list[int], errors: list[BaseException]) -> None:
    writer = Writer()
    try:
        while done := writer.run_once():
            totals.append(done)
    except BaseException as exc:  # handed to the caller's thread
        errors.append(exc)
    finally:
        writer.close()
        if threading.current_thread() is not threading.main_thread():
            connections.close_all()


def directory_queue_run(*, writers: int = 1) -> int:
    """Write every waiting change that is due, in this process; returns how many rows were
    claimed. Raises ``DirectoryUnavailable`` when the directory cannot be reached.

    ``writers`` > 1 (``ent directory-sync``, on PostgreSQL) runs that many writers in threads,
    each with its connections: while one waits for the directory's answers (python-ldap lets
    go of the GIL), another claims and builds its batch, and slapd is never idle. Claims are
    disjoint (``_claim``), so order per entry holds as with one writer. SQLite serialises
    writes: one writer there.
    """
    totals: list[int] = []
    errors: list[BaseException] = []
    # Threads have their own database connections: they would not see the rows of a
    # transaction still open here (a test's), so one writer then, in this thread.
    if writers <= 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        _run_until_empty(totals, errors)
    else:
        threads = [
            threading.Thread(target=_run_until_empty, args=(totals, errors), daemon=True)
            for _ in range(writers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
    return sum(totals)


@dataclass(frozen=True)
class DirectoryStats:
    """What the dashboard and ``/metrics`` show: waiting changes, entries the directory refused
    (not those waiting for an unreachable directory: that is one problem, not one per entry),
    and the age of the oldest waiting change."""

    waiting: int
    errors: int
    oldest_seconds: float


def directory_stats() -> DirectoryStats:
    """The queue's figures (one query)."""
    row = DirectoryEntry.objects.filter(pending=True).aggregate(
        waiting=Count("id"),
        errors=Count("id", filter=Q(attempts__gt=0)),
        oldest=Min("changed_at"),
    )
    oldest = row["oldest"]
    age = (clock.now() - oldest).total_seconds() if oldest else 0.0
    return DirectoryStats(int(row["waiting"]), int(row["errors"]), max(age, 0.0))


class DirectoryWorkerThread(threading.Thread):
    """The writer in a daemon thread: ``ent worker`` and ``ent demo`` start one when
    ``ENT_LDAP_URL`` is set. It looks for waiting changes every ``interval`` seconds."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(name="ent-directory-writer", daemon=True)
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        writer = Writer()
        try:
            while not self.stopping.is_set():
                try:
                    if writer.run_once():
                        continue
                except ldap_client.DirectoryUnavailable as exc:
                    logger.warning("directory unreachable: %s", exc)
                    delay = min(2.0 ** (writer.failures - 1), DIRECTORY_RETRY_MAX_SECONDS)
                    self.stopping.wait(delay)
                except Exception:  # the database may be down for a moment
                    logger.exception("directory writer failed")
                    connections.close_all()
                    time.sleep(1.0)
                self.stopping.wait(self.interval)
        finally:
            writer.close()
            connections.close_all()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch being written, then stop."""
        self.stopping.set()
        self.join(timeout)


def directory_worker_thread(interval: float = 0.2) -> DirectoryWorkerThread:
    """Start the writer in a daemon thread of this process; ``.stop()`` ends it."""
    thread = DirectoryWorkerThread(interval)
    thread.start()
    return thread


def dn_for(student: Student) -> str:
    """The DN of a student's entry (the help desk's page shows it)."""
    return dn_of(student)
