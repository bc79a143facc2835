"""The directory down in the middle of an activation wave (issue 15 §2): activations go on,
changes wait and are written when the real slapd is back, nothing lost, nothing written out of
order. The writer runs as ``ent worker`` runs it, in a thread of its own
(``DirectoryWorkerThread``), against committed data."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import pytest

from ent.accounts.lifecycle import account_lock
from ent.accounts.password_change import password_change
from ent.core.mail import mail_queue_run
from ent.directory import ldap_client
from ent.directory.models import DirectoryEntry, Student
from ent.directory.queue import directory_stats, directory_worker_thread, entries_of
from tests.conftest import GOOD_PASSWORD
from tests.directory.slapd import SlapdServer
from tests.directory.test_writer import read, whoami

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.mail_queue_manual]
NEW_PASSWORD = "Perpignan.Mail2027"


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_outage_in_an_activation_wave_loses_nothing_and_keeps_order(
    directory: SlapdServer,
    make_student: Any,
    make_active_student: Any,
    make_staff: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every value of sn the writer sends, per entry, in the order it sends them.
    written: dict[str, list[str]] = defaultdict(list)
    real = ldap_client.write_many

    def recording(conn: Any, entries: Any, **kwargs: Any) -> Any:
        outcomes = real(conn, entries, **kwargs)
        for entry, outcome in zip(entries, outcomes, strict=True):
            if outcome.error is None:
                written[entry.dn].append(entry.attributes["sn"][0])
        return outcomes

    monkeypatch.setattr(ldap_client, "write_many", recording)
    agent = make_staff()
    writer = directory_worker_thread(interval=0.05)
    try:
        before = [make_active_student(email=f"avant{i}@example.org") for i in range(3)]
        wait_for(lambda: directory_stats().waiting == 0, 20, "the first entries")
        assert all(whoami(directory, s.student_number, GOOD_PASSWORD) for s in before)

        directory.stop()
        # The wave goes on: activations, a password change, a lock, three renames in a row.
        during = [make_active_student(email=f"pendant{i}@example.org") for i in range(5)]
        mail_queue_run()
        password_change(
            account=before[0].account,
            current_password=GOOD_PASSWORD,
            new_password=NEW_PASSWORD,
            ip=None,
            keep_session_key=None,
        )
        account_lock(account=before[1].account, actor=agent, ip=None)
        renamed = make_student(last_name="Lovelace")
        for name in ("Byron", "King", "Babbage"):
            student = Student.objects.get(pk=renamed.pk)
            student.last_name = name
            student.save()
        wait_for(
            lambda: DirectoryEntry.objects.filter(pending=True).exclude(last_error="").exists(),
            20,
            "the writer to meet the outage",
        )
        assert directory_stats().waiting >= len(during) + 3

        directory.start()
        wait_for(lambda: directory_stats().waiting == 0, 60, "the queue to drain")
    finally:
        writer.stop()

    # Nothing lost: every entry is exactly what ENT's records say now.
    students = list(Student.objects.all())
    expected = entries_of([s.student_number for s in students], now=time_now())
    for student in students:
        entry = read(directory, student.student_number)
        want = expected[student.student_number].attributes
        for name in ("cn", "sn", "supannRessourceEtatDate", "mail", "eduPersonPrincipalName"):
            assert entry.get(name) == want.get(name), (student.student_number, name)
        assert ("userPassword" in entry) == ("userPassword" in want)
    assert all(whoami(directory, s.student_number, GOOD_PASSWORD) for s in during)
    assert whoami(directory, before[0].student_number, NEW_PASSWORD)
    assert not whoami(directory, before[0].student_number, GOOD_PASSWORD)
    assert not whoami(directory, before[1].student_number, GOOD_PASSWORD)
    assert read(directory, renamed.student_number)["sn"] == ["Babbage"]
    # Nothing out of order: each entry's writes follow the order of its changes (a name is
    # never written after a later one), and the last write is the last change.
    order = ["Lovelace", "Byron", "King", "Babbage"]
    names = written[f"uid={renamed.student_number},{directory.people_dn}"]
    assert names[-1] == "Babbage"
    assert names == sorted(names, key=order.index)


def time_now() -> Any:
    from ent.core import clock

    return clock.now()
