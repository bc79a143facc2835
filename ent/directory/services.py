"""Writes to the directory: the import of student records."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext as _

from ent.core import clock
from ent.core.audit import Kind
from ent.core.models import AuditEvent

from .identifiers import fold_name
from .importing import Row, RowError
from .models import Student
from .queue import directory_changed

BATCH = 2000
MAX_LOCAL_PART = 64  # RFC 5321, section 4.5.3.1.1


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    @property
    def total(self) -> int:
        """Rows read, good and bad."""
        return self.created + self.updated + self.unchanged + len(self.errors)


class _DryRunRollback(Exception):
    pass


class AddressAllocator:
    """Gives ``prenom.nom@domain`` addresses, numbering homonyms (``prenom.nom2``)."""

    def __init__(self, taken: Iterable[str], domain: str) -> None:
        self.taken = {a.lower() for a in taken}
        self.domain = domain

    def allocate(self, *, first_name: str, last_name: str, student_number: str) -> str:
        """A new address not given to anybody before."""
        first, last = fold_name(first_name), fold_name(last_name)
        base = f"{first}.{last}" if first and last else f"etudiant.{student_number.lower()}"
        # Two 150-character names made a 300-character address: PostgreSQL refused it (the
        # column holds 254) and the whole import failed; mail servers refuse local parts over
        # 64 characters (RFC 5321). Cut the base, keeping room for the homonym's number.
        base = base[:MAX_LOCAL_PART].rstrip(".-")
        candidate, n = base, 1
        while f"{candidate}@{self.domain}" in self.taken:
            n += 1
            candidate = base[: MAX_LOCAL_PART - len(str(n))].rstrip(".-") + str(n)
        address = f"{candidate}@{self.domain}"
        self.taken.add(address)
        return address


# The fields an import owns, in the order rows and tuples use them below.
_UPDATABLE = ("ine", "last_name", "first_name", "birth_date", "program")
_INSERT_COLUMNS = (
    "student_number",
    *_UPDATABLE,
    "institutional_email",
    "created_at",
    "updated_at",
    "last_seen_in_import_at",
)


def _insert_students(rows: list[tuple[str, str, str, str, date, str, str]], now: datetime) -> None:
    """INSERT new records: COPY on PostgreSQL, ``executemany`` on SQLite.

    A deliberate exception to "use the ORM": ``bulk_create`` spends most of a 100,000-row
    import building model instances and preparing each value (about 15 s here); psycopg's
    COPY and SQLite's ``executemany`` with values adapted by the backend's own
    ``connection.ops`` do the same work in about a second. Values are always sent as data,
    never interpolated into SQL.
    """
    if not rows:
        return
    ops = connection.ops
    table = ops.quote_name(Student._meta.db_table)
    columns = ", ".join(ops.quote_name(c) for c in _INSERT_COLUMNS)
    stamp = ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((*row, now, now, now))
            return
        placeholders = ", ".join(["%s"] * len(_INSERT_COLUMNS))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608 (names are constants)
        values = [
            (*row[:4], ops.adapt_datefield_value(row[4]), *row[5:], stamp, stamp, stamp)
            for row in rows
        ]
        for start in range(0, len(values), 5000):
            cursor.executemany(sql, values[start : start + 5000])


def students_import(
    *,
    rows: Iterable[Row | RowError],
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Upsert student records keyed by student number.

    A re-import updates names, birth date, INE and programme, and never touches accounts
    (credentials, personal e-mail, state). Bad rows, an INE held by another student and a
    student number repeated in the file are reported; the good rows are written. With
    ``dry_run`` everything is computed inside a transaction that is then rolled back.
    """
    report = ImportReport(dry_run=dry_run)
    try:
        with transaction.atomic():
            _import(rows, report, progress)
            if dry_run:
                raise _DryRunRollback
    except _DryRunRollback:
        pass
    report.errors.sort(key=lambda e: e.line)
    return report


@dataclass
class _Plan:
    """What an import will write, decided row by row against the records already there."""

    now: datetime
    existing: dict[str, tuple[int, str, str, str, date, str]]
    ine_owner: dict[str, str]
    allocator: AddressAllocator
    seen_numbers: dict[str, int] = field(default_factory=dict)
    to_create: list[tuple[str, str, str, str, date, str, str]] = field(default_factory=list)
    to_update: list[Student] = field(default_factory=list)
    update_changes: list[tuple[int, list[str]]] = field(default_factory=list)
    unchanged_pks: list[int] = field(default_factory=list)

    @classmethod
    def load(cls, now: datetime) -> _Plan:
        """A plan that knows every record: its importable fields, its INE, its address."""
        existing: dict[str, tuple[int, str, str, str, date, str]] = {}
        ine_owner: dict[str, str] = {}
        addresses: list[str] = []
        for pk, number, ine, last, first, birth, program, address in Student.objects.values_list(
            "pk", "student_number", *_UPDATABLE, "institutional_email"
        ).iterator(chunk_size=5000):
            existing[number] = (pk, ine, last, first, birth, program)
            ine_owner[ine] = number
            addresses.append(address)
        allocator = AddressAllocator(addresses, settings.STUDENT_MAIL_DOMAIN)
        return cls(now=now, existing=existing, ine_owner=ine_owner, allocator=allocator)

    def refusal(self, item: Row) -> RowError | None:
        """Why the row is refused: its student number repeated, or its INE held by another."""
        if item.student_number in self.seen_numbers:
            return RowError(
                item.line,
                _("numéro étudiant %(n)s déjà présent ligne %(l)d")
                % {"n": item.student_number, "l": self.seen_numbers[item.student_number]},
            )
        owner = self.ine_owner.get(item.ine)
        if owner is not None and owner != item.student_number:
            return RowError(
                item.line,
                _("INE %(ine)s déjà attribué à l'étudiant %(n)s") % {"ine": item.ine, "n": owner},
            )
        return None

    def add(self, item: Row) -> None:
        """Plan an accepted row: a new record, an update, or a record seen again unchanged."""
        self.seen_numbers[item.student_number] = item.line
        current = self.existing.get(item.student_number)
        if current is None:
            self._create(item)
        else:
            self._update(item, current)

    def _create(self, item: Row) -> None:
        self.ine_owner[item.ine] = item.student_number
        self.to_create.append(
            (
                item.student_number,
                item.ine,
                item.last_name,
                item.first_name,
                item.birth_date,
                item.program,
                self.allocator.allocate(
                    first_name=item.first_name,
                    last_name=item.last_name,
                    student_number=item.student_number,
                ),
            )
        )

    def _update(self, item: Row, current: tuple[int, str, str, str, date, str]) -> None:
        pk, *old_values = current
        old_ine = current[1]
        changed = [
            name
            for name, old in zip(_UPDATABLE, old_values, strict=True)
            if old != getattr(item, name)
        ]
        if not changed:
            self.unchanged_pks.append(pk)
            return
        if "ine" in changed:
            self.ine_owner.pop(old_ine, None)
            self.ine_owner[item.ine] = item.student_number
        self.to_update.append(
            Student(
                pk=pk,
                student_number=item.student_number,
                ine=item.ine,
                last_name=item.last_name,
                first_name=item.first_name,
                birth_date=item.birth_date,
                program=item.program,
                updated_at=self.now,
                last_seen_in_import_at=self.now,
            )
        )
        self.update_changes.append((pk, changed))


def _import(
    rows: Iterable[Row | RowError],
    report: ImportReport,
    progress: Callable[[int], None] | None,
) -> None:
    plan = _Plan.load(clock.now())
    for item in rows:
        if progress is not None:
            progress(1)
        if isinstance(item, RowError):
            report.errors.append(item)
            continue
        error = plan.refusal(item)
        if error is not None:
            report.errors.append(error)
            continue
        plan.add(item)
    _write(plan)
    # The directory follows, in this transaction (ent.directory.queue): new and changed records.
    directory_changed(
        student_numbers=[row[0] for row in plan.to_create]
        + [s.student_number for s in plan.to_update]
    )
    _audit(plan, errors=len(report.errors))
    report.created = len(plan.to_create)
    report.updated = len(plan.to_update)
    report.unchanged = len(plan.unchanged_pks)


def _write(plan: _Plan) -> None:
    """Insert, update, and mark the unchanged records as seen."""
    now = plan.now
    # An INE moving from one student to another in the same file must be freed before it is
    # taken: park the updated INEs on a placeholder first (rare; only when INEs changed).
    moved = [
        s for s, (_pk, ch) in zip(plan.to_update, plan.update_changes, strict=True) if "ine" in ch
    ]
    if moved:
        for student in moved:
            Student.objects.filter(pk=student.pk).update(ine=f"~{student.pk}"[:11])
    _insert_students(plan.to_create, now)
    Student.objects.bulk_update(
        plan.to_update, [*_UPDATABLE, "updated_at", "last_seen_in_import_at"], batch_size=BATCH
    )
    # "Last seen in an import" only needs the day (purge works in months): a record seen in
    # the last 24 hours is not rewritten, which makes a same-day re-import nearly write-free.
    stale = now - timedelta(days=1)
    unchanged = plan.unchanged_pks
    for start in range(0, len(unchanged), 5000):
        Student.objects.filter(
            pk__in=unchanged[start : start + 5000], last_seen_in_import_at__lt=stale
        ).update(last_seen_in_import_at=now)


def _audit(plan: _Plan, *, errors: int) -> None:
    """A created record's history starts at its ``created_at``; an update is recorded per
    student with the fields that changed; the run itself is one event with its counts."""
    events = [
        AuditEvent(at=plan.now, kind=Kind.IMPORT_UPDATED, student_id=pk, data={"fields": changed})
        for pk, changed in plan.update_changes
    ]
    events.append(
        AuditEvent(
            at=plan.now,
            kind=Kind.IMPORT_RUN,
            data={
                "created": len(plan.to_create),
                "updated": len(plan.to_update),
                "unchanged": len(plan.unchanged_pks),
                "errors": errors,
            },
        )
    )
    AuditEvent.objects.bulk_create(events, batch_size=BATCH)
