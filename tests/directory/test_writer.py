"""The directory writer (issue 15 §2) against a real slapd from docs/ldap/: every change of an
account or a student record reaches the directory through the queue, in order, idempotently.

Tests read the directory back with ldapsearch and check binds with ldapwhoami, as a university's
scripts and applications would.
"""

from __future__ import annotations

import base64
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
            if name.endswith(":"):  # "name:: <base64>": a value that is not plain ASCII
                name, value = name[:-1], base64.b64decode(value).decode()
            attributes.setdefault(name, []).append(value)
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


def test_a_password_reset_reaches_binds(directory: SlapdServer, make_active_student: Any) -> None:
    from django.core import mail

    from ent.accounts import password_reset
    from ent.core.codes import CodeStatus

    student = make_active_student()
    directory_queue_run()
    uid = student.student_number
    assert whoami(directory, uid, GOOD_PASSWORD)
    assert password_reset.password_reset_send(account=student.account, actor=None, ip=None)
    code = mail.outbox[-1].body.split("code=")[1].split()[0]
    status = password_reset.password_reset_confirm(code=code, password=NEW_PASSWORD, ip=None)
    assert status is CodeStatus.DONE
    directory_queue_run()
    assert not whoami(directory, uid, GOOD_PASSWORD)
    assert whoami(directory, uid, NEW_PASSWORD)


def test_a_new_uid_setting_renames_the_entries(
    directory: SlapdServer, make_student: Any, settings: Any
) -> None:
    from ent.directory.queue import directory_changed

    student = make_student(first_name="Ada", last_name="Lovelace")
    directory_queue_run()
    assert read(directory, student.student_number)
    settings.LDAP_UID = "mail_local_part"
    local_part = student.institutional_email.partition("@")[0]
    directory_changed(student_numbers=[student.student_number])
    directory_queue_run()
    assert read(directory, student.student_number) == {}
    entry = read(directory, local_part)
    assert entry["uid"] == [local_part] and entry["supannEtuId"] == [student.student_number]
    row = DirectoryEntry.objects.get(student_number=student.student_number)
    assert row.dn == f"uid={local_part},{directory.people_dn}"


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


def test_import_forwarding_and_purge_reach_the_directory(
    directory: SlapdServer, make_student: Any, make_active_student: Any, settings: Any
) -> None:
    from datetime import timedelta

    from ent.core import clock
    from ent.directory.importing import Row
    from ent.directory.services import students_import
    from ent.helpdesk.purge import purge
    from ent.webmail import forwarding

    student = make_active_student(first_name="Sophie", last_name="Germain")
    leaving = make_student(first_name="Évariste", last_name="Galois")
    directory_queue_run()
    uid = student.student_number
    assert "mailForwardingAddress" not in read(directory, uid)

    # A re-import that changes the programme: the entry follows.
    students_import(
        rows=[
            Row(
                line=1,
                student_number=uid,
                ine=student.ine,
                last_name="Germain",
                first_name="Sophie",
                birth_date=student.birth_date,
                program="Master Mathématiques",
            )
        ]
    )
    directory_queue_run()
    assert read(directory, uid)["ou"] == ["Master Mathématiques"]

    # Forwarding to the verified personal address, then stopping it.
    forwarding.forwarding_set(
        account=student.account, address="sophie@example.org", keep_copy=True, ip=None
    )
    directory_queue_run()
    assert read(directory, uid)["mailForwardingAddress"] == ["sophie@example.org"]
    forwarding.forwarding_remove(account=student.account, ip=None)
    directory_queue_run()
    assert "mailForwardingAddress" not in read(directory, uid)

    # A student who never activated and left: the purge removes the record and the entry.
    assert read(directory, leaving.student_number)
    Student.objects.filter(pk=leaving.pk).update(
        last_seen_in_import_at=clock.now() - timedelta(days=settings.PURGE_ABSENT_DAYS + 1)
    )
    purge(dry_run=False)
    directory_queue_run()
    assert read(directory, leaving.student_number) == {}
    assert read(directory, uid)  # the active student stays


def test_entries_outside_the_branch_are_never_written(
    directory: SlapdServer, make_student: Any
) -> None:
    from ent.directory import ldap_client
    from ent.directory.ldap_entry import Entry

    conn = ldap_client.connect()
    try:
        outside = Entry(dn=f"uid=x,{directory.base_dn}", attributes={"uid": ["x"]})
        deeper = Entry(dn=f"uid=x,ou=staff,{directory.people_dn}", attributes={"uid": ["x"]})
        outcomes = ldap_client.write_many(conn, [outside, deeper])
        assert all(o.error and "outside" in o.error for o in outcomes)
        with pytest.raises(ldap_client.EntryRefused):
            ldap_client.delete(conn, f"cn=ent,{directory.base_dn}")
    finally:
        ldap_client.close(conn)
    # ENT's own bind entry is still there.
    directory.ldap("ldapwhoami")


def test_an_entry_the_directory_refuses_keeps_its_error_and_others_go_on(
    directory: SlapdServer, make_student: Any
) -> None:
    good = make_student(first_name="Ada", last_name="Lovelace")
    bad = make_student(first_name="Évariste", last_name="Galois")
    # An entry an older tool left in the branch, with a structural class that cannot become an
    # inetOrgPerson (cosine's ``account``): the directory refuses ENT's classes on it.
    directory.ldap(
        "ldapadd",
        input=f"dn: uid={bad.student_number},{directory.people_dn}\n"
        f"objectClass: account\nuid: {bad.student_number}\n",
    )
    directory_queue_run()
    row = DirectoryEntry.objects.get(student_number=bad.student_number)
    good_row = DirectoryEntry.objects.get(student_number=good.student_number)
    assert not good_row.pending
    assert read(directory, good.student_number)["sn"] == ["Lovelace"]
    assert row.pending and "object class" in row.last_error.lower() and row.attempts == 1
    assert row.next_attempt_at > row.changed_at
    assert directory_stats().errors == 1
    # Not due yet: a run writes nothing. Once the stray entry is removed, the retry writes it.
    assert directory_queue_run() == 0
    directory.ldap("ldapdelete", f"uid={bad.student_number},{directory.people_dn}")
    DirectoryEntry.objects.filter(pk=row.pk).update(next_attempt_at=row.changed_at)
    assert directory_queue_run() == 1
    row.refresh_from_db()
    assert not row.pending and row.last_error == "" and row.attempts == 0
    assert read(directory, bad.student_number)["sn"] == ["Galois"]


def test_ent_worker_batch_writes_the_directory(directory: SlapdServer, make_student: Any) -> None:
    """``ent worker --batch`` sends the mail and, with ENT_LDAP_URL set, writes the directory."""
    from io import StringIO

    from django.core.management import call_command

    student = make_student(first_name="Ada", last_name="Lovelace")
    out = StringIO()
    call_command("worker", "--batch", stdout=out)
    assert "ent worker: 1 directory change(s) written" in out.getvalue()
    assert read(directory, student.student_number)["cn"] == ["Ada Lovelace"]


def test_without_a_directory_nothing_is_queued(settings: Any, make_active_student: Any) -> None:
    """ENT_LDAP_URL unset (the default of make run): no row, no writer."""
    from io import StringIO

    from django.core.management import call_command

    settings.LDAP_URL = ""
    make_active_student()
    assert not DirectoryEntry.objects.exists()
    out = StringIO()
    call_command("worker", "--batch", stdout=out)
    assert "directory" not in out.getvalue()
