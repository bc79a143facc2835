"""PostgreSQL restarted while students activate their accounts.

A private PostgreSQL cluster (initdb + pg_ctl, as the postgres user) serves one ``ent serve``
instance; eight browsers follow their activation links while the database is stopped (fast
shutdown: connections in flight are cut) and started again. Requests caught by the outage get
the "Service momentanément indisponible" page (503), never a stack trace; every account ends
either activated (code used, one audit record, address verified) or untouched (none of it);
and the same instance, not restarted, activates the others afterwards.
"""

from __future__ import annotations

import html
import queue
import threading
import time

import psycopg
import pytest
import requests

from tests.integration.instances import (
    csrf_token,
    deployment,
    ent_serve,
    private_postgres,
    with_database,
)

pytestmark = pytest.mark.slow

STUDENTS = 60

SETUP = """
import json
from datetime import date, timedelta
from ent.accounts import activation
from ent.core.codes import code_issue
from ent.core.models import OneTimeCode
from ent.directory.importing import Row
from ent.directory.services import students_import
from ent.directory.models import Student
rows = [Row(line=i, student_number=f"22{i:06d}", ine=f"{i:09d}CD", last_name="Germain",
            first_name="Sophie", birth_date=date(2005, 4, 1), program="L1")
        for i in range(1, %(n)d + 1)]
assert not students_import(rows=rows).errors
codes = {}
for student in Student.objects.all():
    email = f"s{student.student_number}@example.org"
    account = activation.activation_start(student=student, email=email,
        password="Ent.Perpignan2026", charter_accepted=True, ip=None)
    # A fresh link whose code the test knows (the mailed one is revoked by it).
    _row, code = code_issue(purpose=OneTimeCode.Purpose.ACTIVATION, account=account,
        email=email, lifetime=timedelta(hours=1))
    codes[student.student_number] = code
print(json.dumps(codes))
"""

STATES = """
import json
from ent.accounts.models import Account
from ent.core.models import AuditEvent, OneTimeCode
out = {}
for account in Account.objects.select_related("student"):
    number = account.student.student_number
    code = OneTimeCode.objects.get(account=account, purpose="activation", revoked_at=None)
    audits = AuditEvent.objects.filter(kind="activation.confirmed", student=account.student)
    out[number] = [account.state, code.used_at is not None, audits.count(),
                   account.personal_email_verified_at is not None, account.activated_at is not None]
print(json.dumps(out))
"""


def _activate(base: str, code: str) -> tuple[int, str]:
    """Follow the link and press the button, as a browser does: (status, page)."""
    browser = requests.Session()
    page = browser.get(f"{base}/activation/confirm", params={"code": code}, timeout=20)
    if page.status_code != 200:
        return page.status_code, page.text
    response = browser.post(
        f"{base}/activation/confirm",
        data={"csrfmiddlewaretoken": csrf_token(page.text)},
        timeout=20,
    )
    return response.status_code, response.text


def _activated(status: int, text: str) -> bool:
    page = html.unescape(text)
    return status == 200 and (
        "Votre compte est activé" in page or "Votre compte est déjà activé" in page
    )


def test_postgres_restart_during_activations() -> None:
    started = time.monotonic()
    with private_postgres() as cluster:
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE ent")
        with deployment(with_database(cluster.url, "ent")) as deploy:
            deploy.run("migrate", "--no-input", timeout=180)
            codes: dict[str, str] = deploy.python(SETUP % {"n": STUDENTS})
            assert len(codes) == STUDENTS
            with ent_serve(deploy, workers=2) as instance:
                todo: queue.Queue[tuple[str, str]] = queue.Queue()
                for item in codes.items():
                    todo.put(item)
                results: dict[str, tuple[int, str]] = {}
                lock = threading.Lock()
                ready_while_down: list[requests.Response] = []

                def browser() -> None:
                    while True:
                        try:
                            number, code = todo.get_nowait()
                        except queue.Empty:
                            return
                        outcome = _activate(instance.url, code)
                        with lock:
                            results[number] = outcome
                        time.sleep(0.35)  # spread the activations over the restart

                def restart() -> None:
                    time.sleep(1.0)
                    cluster.stop()
                    ready_while_down.append(requests.get(f"{instance.url}/readyz", timeout=20))
                    time.sleep(1.5)
                    cluster.start()

                threads = [threading.Thread(target=browser) for _ in range(8)]
                threads.append(threading.Thread(target=restart))
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(120)
                assert len(results) == STUDENTS

                # 1. Requests caught by the outage: the clear 503 page, never a trace or a 500.
                statuses = sorted({status for status, _text in results.values()})
                assert set(statuses) <= {200, 503}, statuses
                unavailable = [text for status, text in results.values() if status == 503]
                assert unavailable, "no request met the restart: the test proved nothing"
                for text in unavailable:
                    page = html.unescape(text)
                    assert "Service momentanément indisponible" in page
                    assert "Traceback" not in page and "OperationalError" not in page
                assert ready_while_down[0].status_code == 503
                assert "database" in ready_while_down[0].json()["failed"]
                first_round = {n for n, (s, t) in results.items() if _activated(s, t)}
                assert first_round, "nothing activated around the restart"

                # 2. Every account activated or untouched, never half-activated.
                states = deploy.python(STATES)
                for number, (state, used, audits, verified, activated_at) in states.items():
                    if state == "active":
                        assert (used, audits, verified, activated_at) == (True, 1, True, True)
                    else:
                        assert state == "pending", (number, state)
                        assert (used, audits, verified, activated_at) == (
                            False,
                            0,
                            False,
                            False,
                        ), number
                    # A page that said "activated" is the truth in the database.
                    if number in first_round:
                        assert state == "active", number

                # 3. The same instance, not restarted, serves again: the others activate now.
                assert requests.get(f"{instance.url}/readyz", timeout=20).status_code == 200
                for number, code in codes.items():
                    if number not in first_round:
                        status, text = _activate(instance.url, code)
                        assert _activated(status, text), (number, status)
                states = deploy.python(STATES)
                assert all(v == ["active", True, 1, True, True] for v in states.values())
                assert instance.process.poll() is None
                # The outage is in the logs (JSON lines with the request id), the cause kept.
                logs = instance.logs()
                assert '"logger": "django.request"' in logs and "Service Unavailable" in logs
                assert '"request_id": "' in logs and "OperationalError" in logs
    assert time.monotonic() - started < 120
