"""What the help desk and the operators see of the directory writer: the entry's state on a
student's account page (in step, waiting, error, never written), the queue's counts on the
dashboard, and its gauges on /metrics; nothing of it while ``ENT_LDAP_URL`` is unset.

The directory in step and a refused entry are real writes to the test slapd; "waiting" needs no
server: ``ldap://127.0.0.1:1`` enables the queue, and nobody answers there.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from ent.core.workers import Background, Gauge
from ent.directory import ldap_client
from ent.directory.models import DirectoryEntry
from ent.directory.queue import directory_queue_run
from ent.directory.selectors import DirectoryState, directory_status
from ent.helpdesk.templatetags.helpdesk import age
from tests.conftest import page_text
from tests.directory.slapd import SlapdServer

pytestmark = pytest.mark.django_db
NOBODY = "ldap://127.0.0.1:1"


def _status(client: Client, student: Any) -> str:
    """The text of the account page's directory status, tags removed ('' if no block)."""
    page = page_text(client.get(f"/helpdesk/students/{student.pk}/"))
    found = re.search(r'<dd id="helpdesk-ldap-status">(.*?)</dd>', page, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)) if found else ""


def _metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def test_no_directory_no_block_no_gauges(
    agent_client: Client, make_student: Any, settings: Any
) -> None:
    settings.LDAP_URL = ""
    student = make_student()
    page = page_text(agent_client.get(f"/helpdesk/students/{student.pk}/"))
    assert student.student_number in page and "Annuaire (LDAP)" not in page
    assert "Annuaire (LDAP)" not in page_text(agent_client.get("/helpdesk/"))
    metrics = Client().get("/metrics").content.decode()
    assert "ent_mail_queue_depth" in metrics  # the existing gauges stay
    assert "ent_directory_" not in metrics
    assert not DirectoryEntry.objects.exists()


def test_never_written(agent_client: Client, make_student: Any, settings: Any) -> None:
    """A student imported before the directory was set: no row, waiting for a first write."""
    student = make_student()
    settings.LDAP_URL = NOBODY
    assert directory_status(student).state == DirectoryState.NOT_WRITTEN
    page = page_text(agent_client.get(f"/helpdesk/students/{student.pk}/"))
    assert '<h2 id="h-ldap">Annuaire (LDAP)</h2>' in page
    assert _status(agent_client, student) == "En attente de la première écriture"


def test_waiting(agent_client: Client, make_student: Any, settings: Any) -> None:
    settings.LDAP_URL = NOBODY
    student = make_student()
    status = directory_status(student)
    # Not written yet: the DN it will have.
    assert status.state == DirectoryState.WAITING
    assert status.dn == f"uid={student.student_number},ou=people,dc=univ-perp,dc=fr"
    assert _status(agent_client, student).startswith("En attente depuis le ")
    page = page_text(agent_client.get(f"/helpdesk/students/{student.pk}/"))
    assert "Prochain essai" not in page
    queue = page_text(agent_client.get("/helpdesk/"))
    assert "1 modification en attente d'écriture dans l'annuaire." in queue
    assert "La plus ancienne attend depuis 0\xa0minute." in queue  # Django's no-break space


def test_unreachable_on_the_page_the_dashboard_and_metrics(
    agent_client: Client, make_student: Any, settings: Any
) -> None:
    """The directory unreachable: the rows wait with its message, the worker tries again later;
    no entry counts as refused (one problem, not one per entry)."""
    settings.LDAP_URL = NOBODY
    student = make_student()
    make_student()
    with pytest.raises(ldap_client.DirectoryUnavailable):
        directory_queue_run()
    status = directory_status(student)
    assert status.state == DirectoryState.WAITING and status.last_error
    assert status.next_attempt_at is not None
    text = _status(agent_client, student)
    assert text.startswith("En attente depuis le ")
    assert f"(annuaire injoignable : {status.last_error})" in text
    page = page_text(agent_client.get(f"/helpdesk/students/{student.pk}/"))
    assert "<dt>Essais</dt>" not in page
    assert "<dt>Prochain essai</dt><dd><time " in page

    queue = page_text(agent_client.get("/helpdesk/"))
    assert "2 modifications en attente d'écriture dans l'annuaire." in queue
    metrics = Client().get("/metrics").content.decode()
    assert _metric(metrics, "ent_directory_changes_waiting") == 2
    assert _metric(metrics, "ent_directory_entries_error") == 0
    oldest = _metric(metrics, "ent_directory_oldest_waiting_seconds")
    assert oldest is not None and 0 <= oldest < 60
    assert "# TYPE ent_directory_changes_waiting gauge" in metrics
    assert _metric(metrics, "ent_mail_queue_depth") is not None


def test_refused_on_the_page_the_dashboard_and_metrics(
    agent_client: Client, make_student: Any, directory: SlapdServer
) -> None:
    """An entry the directory refuses (a stray entry of an older tool holds its DN with a
    structural class that cannot become an inetOrgPerson): its error, attempts, next try."""
    student = make_student()
    make_student()
    directory.ldap(
        "ldapadd",
        input=f"dn: uid={student.student_number},{directory.people_dn}\n"
        f"objectClass: account\nuid: {student.student_number}\n",
    )
    directory_queue_run()
    status = directory_status(student)
    assert status.state == DirectoryState.ERROR and status.attempts == 1
    text = _status(agent_client, student)
    assert text.startswith("Erreur : ") and status.last_error in text
    page = page_text(agent_client.get(f"/helpdesk/students/{student.pk}/"))
    assert "<dt>Essais</dt><dd>1 essai refusé</dd>" in page
    assert "<dt>Prochain essai</dt><dd><time " in page
    queue = page_text(agent_client.get("/helpdesk/"))
    assert "1 modification en attente d'écriture dans l'annuaire, dont 1 entrée en erreur." in queue
    metrics = Client().get("/metrics").content.decode()
    assert _metric(metrics, "ent_directory_changes_waiting") == 1
    assert _metric(metrics, "ent_directory_entries_error") == 1


def test_in_step_after_a_real_write(
    agent_client: Client, make_student: Any, directory: SlapdServer
) -> None:
    student = make_student()
    assert directory_queue_run() == 1
    status = directory_status(student)
    assert status.state == DirectoryState.IN_STEP and status.applied_at is not None
    assert status.dn == f"uid={student.student_number},{directory.people_dn}"
    assert _status(agent_client, student).startswith("À jour (écrite le ")
    page = page_text(agent_client.get(f"/helpdesk/students/{student.pk}/"))
    assert f'<dd class="break">{status.dn}</dd>' in page
    queue = page_text(agent_client.get("/helpdesk/"))
    assert "0 modification en attente d'écriture dans l'annuaire." in queue
    assert "La plus ancienne" not in queue
    metrics = Client().get("/metrics").content.decode()
    assert _metric(metrics, "ent_directory_changes_waiting") == 0
    assert _metric(metrics, "ent_directory_entries_error") == 0
    assert _metric(metrics, "ent_directory_oldest_waiting_seconds") == 0


def test_in_english(agent_client: Client, make_student: Any, settings: Any) -> None:
    settings.LDAP_URL = NOBODY
    student = make_student()
    agent_client.post("/i18n/setlang/", {"language": "en", "next": "/helpdesk/"})
    page = page_text(agent_client.get(f"/helpdesk/students/{student.pk}/"))
    assert "Directory (LDAP)" in page and "Waiting since " in page
    queue = page_text(agent_client.get("/helpdesk/"))
    assert "1 change waiting to be written to the directory." in queue


def test_a_queue_that_cannot_be_read_leaves_its_gauges_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A writer's ``stats`` failing (the database down): its gauges are missing, the rest stays."""

    def broken() -> list[Gauge]:
        raise RuntimeError("database down")

    from ent.core import workers

    monkeypatch.setitem(
        workers._registered,
        "broken",
        Background(
            name="broken",
            enabled=lambda: True,
            start=lambda: None,  # type: ignore[arg-type,return-value]
            run_batch=lambda: 0,
            stats=broken,
        ),
    )
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert "ent_mail_queue_depth" in response.content.decode()


def test_age_in_words() -> None:
    assert age(0) == age(None) == "0\xa0minute"
    assert age(3900) == "1\xa0heure, 5\xa0minutes"
