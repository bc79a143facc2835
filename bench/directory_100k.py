"""Time ``directory_sync`` on 100,000 students against a real slapd, beside ``ldapadd``.

Usage: ``ENT_DATABASE_URL=postgres://… .venv/bin/python bench/directory_100k.py [ROWS]``
(``make bench`` runs it through ``bench/run.py directory``). The database named by
ENT_DATABASE_URL is used as is: point it at a throw-away one. ENT_LDAP_URL must be unset: the
students are imported first, without a directory, then the directory is added (the case
``ent directory-sync`` is for).

1. Import ``ROWS`` generated students (``import_100k.students_csv``) and give them accounts in
   bulk: 70 % active (one argon2id hash computed once, so every entry gets a real
   ``userPassword``; verified personal address, a forwarding rule for one in five), 5 % with
   the activation pending, 2 % locked, the rest never activated.
2. Start slapd from docs/ldap/slapd.conf (``tests.directory.slapd.SlapdServer``) and time the
   first sync into the empty branch, then a resync with nothing to change.
3. Write the same entries as LDIF and time ``ldapadd`` of the file into a fresh slapd.

4. For information, the first sync again into a slapd with ``dbnosync``: the gap to step 2 is
   the disk's cost of one LMDB commit per entry, which ``ldapadd`` pays too.

Prints ``first sync: …``, ``resync: …``, ``ldapadd: …`` and ``first sync, dbnosync: …``
lines that run.py reads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ent.settings")
CHUNK = 2000

import django  # noqa: E402 (after the path and settings above)

django.setup()
from tests.directory.slapd import SlapdServer, ldap_tool  # noqa: E402


def log(message: str) -> None:
    print(f"[directory {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def students_and_accounts(count: int, work: Path) -> None:
    """The import, then the accounts in bulk (no signal: nothing is queued)."""
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.utils import timezone
    from import_100k import students_csv

    from ent.accounts.models import Account
    from ent.directory.models import DirectoryEntry, Student

    call_command("migrate", verbosity=0)
    Account.objects.filter(kind=Account.Kind.STUDENT).delete()
    Student.objects.all().delete()
    DirectoryEntry.objects.all().delete()
    call_command("import-students", str(students_csv(work, count)), stdout=sys.stderr)
    hashed = make_password("Bench.Directory@2026")
    now = timezone.now()
    accounts = []
    for i, (pk, number) in enumerate(
        Student.objects.order_by("pk").values_list("pk", "student_number")
    ):
        share = i % 100
        if share >= 77:
            continue  # never activated
        state = (
            Account.State.ACTIVE
            if share < 70
            else Account.State.PENDING
            if share < 75
            else Account.State.LOCKED
        )
        done = state != Account.State.PENDING
        accounts.append(
            Account(
                username=number,
                student_id=pk,
                state=state,
                password=hashed,
                personal_email=f"etu{number}@perso.example.org",
                personal_email_verified_at=now if done else None,
                activated_at=now if done else None,
                forwarding_address=f"etu{number}@perso.example.org" if share % 5 == 0 else "",
            )
        )
    Account.objects.bulk_create(accounts, batch_size=5000)
    log(f"{count} students, {len(accounts)} accounts")


def point_at(server: SlapdServer) -> None:
    from django.conf import settings

    settings.LDAP_URL = server.url
    settings.LDAP_STARTTLS = False
    settings.LDAP_BIND_DN = server.bind_dn
    settings.LDAP_BIND_PASSWORD = server.bind_password
    settings.LDAP_PEOPLE_DN = server.people_dn


def write_ldif(path: Path) -> int:
    """The entries of every student, as ENT builds them, in an LDIF file; how many."""
    import ldif

    from ent.core import clock
    from ent.directory.models import Student
    from ent.directory.queue import entries_of

    numbers = list(Student.objects.order_by("pk").values_list("student_number", flat=True))
    now = clock.now()
    with path.open("w", encoding="utf-8") as f:
        writer = ldif.LDIFWriter(f, cols=1000)
        for start in range(0, len(numbers), CHUNK):
            for entry in entries_of(numbers[start : start + CHUNK], now=now).values():
                writer.unparse(
                    entry.dn, {k: [v.encode() for v in vs] for k, vs in entry.attributes.items()}
                )
    return len(numbers)


def timed_syncs(server: SlapdServer, labels: tuple[str, ...]) -> None:
    """Point ENT at ``server`` (an empty branch, no row in the queue) and sync once per label."""
    from ent.directory.models import DirectoryEntry
    from ent.directory.sync import directory_sync

    DirectoryEntry.objects.all().delete()
    point_at(server)
    for label in labels:
        start = time.perf_counter()
        report = directory_sync(dry_run=False, remove_unknown=False)
        seconds = time.perf_counter() - start
        log(f"{label}: {report}")
        if report.errors:
            raise SystemExit(f"{label}: {len(report.errors)} errors, e.g. {report.errors[:3]}")
        print(f"{label}: {seconds:.2f} s, {report.changed} written, {report.in_step} in step")


class NoSyncSlapd(SlapdServer):
    """The same slapd with ``dbnosync`` (no fsync per LMDB commit): for information only, to
    show ENT's own share of the first sync beside the disk's commit cost."""

    def render(self) -> str:
        return super().render().replace("\ndirectory ", "\ndbnosync\ndirectory ", 1)


def main(count: int) -> None:
    if os.environ.get("ENT_LDAP_URL"):
        raise SystemExit("ENT_LDAP_URL must be unset: the bench adds its own directory")
    work = Path(tempfile.mkdtemp(prefix="ent-bench-directory-"))
    students_and_accounts(count, work)
    servers = [SlapdServer(), SlapdServer(), NoSyncSlapd()]
    try:
        servers[0].start()
        timed_syncs(servers[0], ("first sync", "resync"))
        servers[0].close()
        n = write_ldif(work / "students.ldif")
        servers[1].start()
        # ldap-utils as a university's script runs it (SlapdServer.ldap's 30 s timeout is
        # for tests): one bind, then one add after the other.
        command = [ldap_tool("ldapadd"), "-x", "-H", servers[1].url, "-D", servers[1].bind_dn]
        command += ["-w", servers[1].bind_password, "-f", str(work / "students.ldif")]
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        print(f"ldapadd: {time.perf_counter() - start:.2f} s, {n} entries")
        servers[1].close()
        servers[2].start()
        timed_syncs(servers[2], ("first sync, dbnosync",))
    finally:
        for server in servers:
            server.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
