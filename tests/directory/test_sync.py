"""``ent directory-sync`` (``ent.directory.sync``) against a real slapd from docs/ldap/: the
branch reconciled with ENT's records, hand edits found and fixed through the queue, unknown
entries reported (removed only when asked), nothing outside the branch touched."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from ent.directory.models import DirectoryEntry
from ent.directory.queue import directory_queue_run
from tests.conftest import GOOD_PASSWORD, free_port
from tests.directory.slapd import BASE_DN, SlapdServer
from tests.directory.test_writer import read, whoami

pytestmark = pytest.mark.django_db


def sync(*args: str) -> str:
    """``ent directory-sync ARGS``; what it printed."""
    out = StringIO()
    call_command("directory-sync", *args, stdout=out)
    return out.getvalue()


def entry_ldif(dn: str, uid: str, cn: str) -> str:
    return f"dn: {dn}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {cn}\nsn: {cn}\n"


def exists(slapd: SlapdServer, dn: str) -> bool:
    done = slapd.ldap("ldapsearch", "-LLL", "-s", "base", "-b", dn, "1.1", check=False)
    return done.returncode == 0


def test_an_empty_branch_is_filled_then_in_step(directory: SlapdServer, make_student: Any) -> None:
    students = [make_student(last_name=f"Nom{i}") for i in range(3)]
    DirectoryEntry.objects.all().delete()  # the directory is added after the import
    output = sync()
    assert "0 in step, 3 missing (were added)" in output
    for student in students:
        assert f"missing: uid={student.student_number},{directory.people_dn}" in output
        assert read(directory, student.student_number)["sn"] == [student.last_name]
    assert not DirectoryEntry.objects.filter(pending=True).exists()
    again = sync()
    assert again.strip() == (
        "3 in step, 0 missing (were added), 0 different (were fixed), 0 unknown (0 removed),"
        " 0 errors."
    )


def test_hand_edits_are_reported_and_fixed(
    directory: SlapdServer, make_active_student: Any, make_student: Any
) -> None:
    student = make_active_student(first_name="Ada", last_name="Lovelace")
    other = make_student(first_name="Blaise", last_name="Pascal")
    directory_queue_run()
    uid = student.student_number
    dn = f"uid={uid},{directory.people_dn}"
    assert "userPassword" in read(directory, uid)
    directory.ldap(
        "ldapmodify",
        input=(
            f"dn: {dn}\nchangetype: modify\nreplace: cn\ncn: Ada King\n-\n"
            "delete: userPassword\n-\n"
            "add: mailForwardingAddress\nmailForwardingAddress: thief@example.org\n-\n"
            # Values in another order, and a class of another system: both are in step.
            "replace: eduPersonAffiliation\neduPersonAffiliation: member\n"
            "eduPersonAffiliation: student\n-\n"
            "add: objectClass\nobjectClass: supannOrg\n"
        ),
    )
    before = read(directory, other.student_number)

    dry = sync("--dry-run")
    assert f"different: {dn} (cn, mailForwardingAddress, userPassword)" in dry
    assert dry.strip().endswith(
        "Dry run (nothing changed): 1 in step, 0 missing (would be added), 1 different (would be"
        " fixed: cn 1, mailForwardingAddress 1, userPassword 1), 0 unknown (0 removed), 0 errors."
    )
    assert read(directory, uid)["cn"] == ["Ada King"]
    assert not DirectoryEntry.objects.filter(pending=True).exists()

    output = sync()
    assert "1 different (were fixed: cn 1, mailForwardingAddress 1, userPassword 1)" in output
    entry = read(directory, uid)
    assert entry["cn"] == ["Ada Lovelace"]
    assert "mailForwardingAddress" not in entry
    assert whoami(directory, uid, GOOD_PASSWORD)
    assert read(directory, other.student_number) == before
    assert "0 different" in sync()


def test_a_missing_entry_is_added_again(directory: SlapdServer, make_student: Any) -> None:
    student = make_student()
    directory_queue_run()
    directory.ldap("ldapdelete", f"uid={student.student_number},{directory.people_dn}")
    assert "0 in step, 1 missing (would be added)" in sync("--dry-run")
    assert read(directory, student.student_number) == {}
    assert "0 in step, 1 missing (were added)" in sync()
    assert read(directory, student.student_number)["uid"] == [student.student_number]


def test_unknown_entries_are_kept_unless_asked_and_outside_is_never_touched(
    directory: SlapdServer, make_student: Any
) -> None:
    student = make_student()
    directory_queue_run()
    number = student.student_number
    unknown = f"uid=99999999,{directory.people_dn}"
    # Outside the branch: the same uid as a student's, with other values, at two places.
    beside = f"uid={number},{BASE_DN}"
    staff = f"uid={number},ou=staff,{BASE_DN}"
    directory.ldap(
        "ldapadd",
        input="\n".join(
            [
                entry_ldif(unknown, "99999999", "Nobody"),
                entry_ldif(beside, number, "Not ENT's"),
                f"dn: ou=staff,{BASE_DN}\nobjectClass: organizationalUnit\nou: staff\n",
                entry_ldif(staff, number, "Staff"),
            ]
        ),
    )
    for args in ((), ("--dry-run", "--remove-unknown")):
        output = sync(*args)
        assert f"unknown: {unknown}" in output
        assert "1 in step, 0 missing" in output and "1 unknown (0 removed)" in output
        assert exists(directory, unknown)
    output = sync("--remove-unknown")
    assert f"unknown, removed: {unknown}" in output and "1 unknown (1 removed)" in output
    assert not exists(directory, unknown)
    assert "0 unknown" in sync()
    for dn in (beside, staff):
        assert exists(directory, dn)
        done = directory.ldap("ldapsearch", "-LLL", "-s", "base", "-b", dn, "cn")
        assert "cn: Not ENT's" in done.stdout or "cn: Staff" in done.stdout


def test_a_refused_entry_is_an_error(directory: SlapdServer, make_student: Any) -> None:
    unknown = f"ou=sub,{directory.people_dn}"
    directory.ldap(
        "ldapadd",
        input=(
            f"dn: {unknown}\nobjectClass: organizationalUnit\nou: sub\n\n"
            + entry_ldif(f"uid=1,{unknown}", "1", "Deep")
        ),
    )
    with pytest.raises(CommandError) as caught:
        sync("--remove-unknown")
    assert caught.value.returncode == 1
    assert exists(directory, unknown) and exists(directory, f"uid=1,{unknown}")


def test_an_unreachable_directory_is_a_clear_error(
    directory: SlapdServer, make_student: Any
) -> None:
    make_student()
    directory.stop()
    with pytest.raises(CommandError, match="The directory cannot be reached") as caught:
        sync()
    assert caught.value.returncode == 1


def test_no_directory_is_a_clear_error(settings: Any) -> None:
    settings.LDAP_URL = ""
    with pytest.raises(CommandError, match="ENT_LDAP_URL is not set") as caught:
        sync()
    assert caught.value.returncode == 1


def test_the_command_line_says_it_in_one_line(tmp_path: Path) -> None:
    """Run as ``ent directory-sync``: exit status 1, the message, no traceback."""
    password = tmp_path / "password"
    password.write_text("secret\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENT_")}
    env.update(
        ENT_DEMO="1",
        ENT_VAR_DIR=os.environ["ENT_VAR_DIR"],
        ENT_LDAP_URL=f"ldap://127.0.0.1:{free_port()}",
        ENT_LDAP_BIND_DN=f"cn=ent,{BASE_DN}",
        ENT_LDAP_BIND_PASSWORD_FILE=str(password),
    )
    done = subprocess.run(
        [sys.executable, "-m", "ent.manage", "directory-sync"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "The directory cannot be reached" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.django_db(transaction=True)
def test_a_sync_with_parallel_writers_writes_each_entry_once(
    directory: SlapdServer, make_student: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside a transaction (as ``ent directory-sync`` runs), PostgreSQL gets two writers in
    threads: their claims never overlap, so each entry is written exactly once."""
    import threading
    from collections import Counter

    from django.db import connection

    from ent.directory import ldap_client

    students = [make_student(last_name=f"Nom{i}") for i in range(40)]
    DirectoryEntry.objects.all().delete()
    written: Counter[str] = Counter()
    threads: set[str] = set()
    real = ldap_client.write_many

    def counting(conn: Any, entries: Any, **kwargs: Any) -> Any:
        written.update(e.dn for e in entries)
        threads.add(threading.current_thread().name)
        return real(conn, entries, **kwargs)

    monkeypatch.setattr(ldap_client, "write_many", counting)
    monkeypatch.setattr("ent.directory.queue.BATCH", 3)  # many small claims, interleaved
    assert "0 in step, 40 missing (were added)" in sync()
    assert len(written) == 40 and set(written.values()) == {1}
    assert len(threads) == (2 if connection.vendor == "postgresql" else 1)
    assert not DirectoryEntry.objects.filter(pending=True).exists()
    for student in students[::10]:
        assert read(directory, student.student_number)["sn"] == [student.last_name]
