"""The directory writer (issue 15 §2) against a real slapd from docs/ldap/: every change of an
account or a student record reaches the directory through the queue, in order, idempotently.

Tests read the directory back with ldapsearch and check binds with ldapwhoami, as a university's
scripts and applications would.
"""

from __future__ import annotations

from typing import Any

import pytest

from ent.accounts.lifecycle import account_lock, account_unlock
from ent.accounts.password_change import password_change
from ent.directory.models import DirectoryEntry, Student
from ent.directory.queue import directory_queue_run, directory_stats
from tests.conftest import GOOD_PASSWORD
from tests.directory.slapd import SlapdServer

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "Perpignan.Mail2027"


def read(slapd: SlapdServer, uid: str) -> dict[str, list[str]]:
    """The entry ``uid=<uid>`` as ENT's bind DN reads it (every attribute), {} if missing."""
    done = slapd.ldap(
        "ldapsearch",
        "-LLL",
        "-o",
        "ldif-wrap=no",
        "-b",
        slapd.people_dn,
        f"(uid={uid})",
        "*",
    )
    attributes: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        if ": " in line and not line.startswith("dn:"):
            name, _sep, value = line.partition(": ")
            attributes.setdefault(name.rstrip(":"), []).append(value)
    return attributes


def whoami(slapd: SlapdServer, uid: str, password: str) -> bool:
    """Whether a simple bind as the student succeeds (``ldapwhoami``)."""
    done = slapd.ldap(
        "ldapwhoami", bind_dn=f"uid={uid},{slapd.people_dn}", password=password, check=False
    )
    return done.returncode == 0


def test_an_imported_student_is_written_and_in_step(
    directory: SlapdServer, make_student: Any
) -> None:
    student = make_student(first_name="Ada", last_name="Lovelace")
    assert DirectoryEntry.objects.get(student_number=student.student_number).pending
    assert directory_stats().waiting == 1
    assert directory_queue_run() == 1
    entry = read(directory, student.student_number)
    assert entry["cn"] == ["Ada Lovelace"]
    assert entry["supannRessourceEtatDate"] == ["{COMPTE}I:SupannPrecree::"]
    assert "userPassword" not in entry
    row = DirectoryEntry.objects.get(student_number=student.student_number)
    assert not row.pending and row.dn == f"uid={student.student_number},{directory.people_dn}"
    assert directory_stats().waiting == 0
    # Nothing waiting: a second run writes nothing.
    assert directory_queue_run() == 0


def test_activation_password_change_and_lock_reach_binds(
    directory: SlapdServer, make_active_student: Any, make_staff: Any
) -> None:
    student = make_active_student()
    directory_queue_run()
    uid = student.student_number
    assert read(directory, uid)["supannRessourceEtatDate"][0].startswith("{COMPTE}A:SupannActif:")
    assert whoami(directory, uid, GOOD_PASSWORD)
    account = student.account
    agent = make_staff()
    password_change(
        account=account,
        current_password=GOOD_PASSWORD,
        new_password=NEW_PASSWORD,
        ip=None,
        keep_session_key=None,
    )
    directory_queue_run()
    assert not whoami(directory, uid, GOOD_PASSWORD)
    assert whoami(directory, uid, NEW_PASSWORD)
    account_lock(account=account, actor=agent, ip=None)
    directory_queue_run()
    assert not whoami(directory, uid, NEW_PASSWORD)
    entry = read(directory, uid)
    assert "userPassword" not in entry
    assert entry["supannRessourceEtatDate"] == ["{COMPTE}S:SupannVerrouille::"]
    account_unlock(account=account, actor=agent, ip=None)
    directory_queue_run()
    assert whoami(directory, uid, NEW_PASSWORD)


def test_a_change_made_during_a_write_is_written_after_it(
    directory: SlapdServer, make_student: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    student = make_student(first_name="Ada", last_name="Lovelace")
    from ent.directory import ldap_client

    real = ldap_client.write_many

    def write_then_change(conn: Any, entries: Any, **kwargs: Any) -> Any:
        outcomes = real(conn, entries, **kwargs)
        if Student.objects.get(pk=student.pk).last_name == "Lovelace":
            # A help-desk correction commits while the first write is on the wire.
            Student.objects.filter(pk=student.pk).update(last_name="King")
            Student.objects.get(pk=student.pk).save()
        return outcomes

    monkeypatch.setattr(ldap_client, "write_many", write_then_change)
    directory_queue_run()
    assert read(directory, student.student_number)["sn"] == ["King"]
    assert not DirectoryEntry.objects.get(student_number=student.student_number).pending
