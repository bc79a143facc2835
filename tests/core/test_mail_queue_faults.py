"""Faults a university will live through, with real ``ent worker`` processes and a real SMTP
server: the relay down during an activation wave, a worker killed with SIGKILL in the middle of
a send, a mail that keeps failing and is retried from the help desk.

Each test runs on the suite's database (SQLite or PostgreSQL): the rows are committed
(``transaction=True``) so that the worker processes see them, and the test drains nothing
itself (``mail_queue_manual``). A mail counts as arrived when the SMTP server answered 250 to
its DATA; each is counted by recipient and by Message-ID.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.db import connection
from django.test import Client

from ent.core.models import AuditEvent, MailDelivery
from tests.conftest import SMTPCatcher, free_port, page_text, start_activation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.mail_queue_manual]

# aiosmtpd logs every SMTP command at INFO: thousands of lines that would bury a failure.
logging.getLogger("mail.log").setLevel(logging.WARNING)


def _database_url() -> str:
    """The URL of the test database this process uses, for the worker processes."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Workers:
    """``ent worker`` processes started by a test; all are gone when the test ends."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, smtp_port: int, **settings: Any) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "ent.settings_test",
            "ENT_DATABASE_URL": _database_url(),
            "ENT_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "ENT_MAIL_RETRY_BASE_SECONDS": "1",
            "ENT_MAIL_RETRY_MAX_SECONDS": "2",
            **{f"ENT_{name.upper()}": str(value) for name, value in settings.items()},
        }
        log = open(self.tmp_path / f"worker{len(self.processes)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "ent.manage", "worker", "--interval", "0.2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.processes.append(process)
        return process

    def logs(self) -> str:
        """Every worker's output (shown when an assertion fails)."""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.tmp_path.glob("*.log")))

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(10)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    """Start ``ent worker`` processes; killed at the end whatever happens."""
    started = Workers(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


def wait_until(condition: Callable[[], bool], timeout: float, what: str, logs: Any = "") -> None:
    """Poll ``condition`` every 0.1 s for ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{logs() if logs else ''}")
        time.sleep(0.1)


def queue_depth() -> int:
    """Mails not sent yet (queued, retrying, being sent)."""
    return MailDelivery.objects.exclude(
        state__in=(MailDelivery.State.SENT, MailDelivery.State.FAILED)
    ).count()


def import_students(n: int, prefix: str) -> list[Any]:
    """``n`` new students through the import service."""
    from ent.directory.importing import Row
    from ent.directory.models import Student
    from ent.directory.services import students_import

    rows = [
        Row(
            line=i,
            student_number=f"{prefix}{i:06d}",
            ine=f"{prefix}{i:08d}Q",
            last_name="Pascal",
            first_name=f"Blaise{i}",
            birth_date=date(2004, 6, 19),
            program="Licence",
        )
        for i in range(n)
    ]
    report = students_import(rows=rows)
    assert not report.errors, report.errors
    return list(Student.objects.filter(student_number__startswith=prefix).order_by("pk"))


def start_relay(catcher: Any) -> Controller:
    """A real SMTP server (aiosmtpd) for ``catcher`` on its port."""
    controller = Controller(catcher, hostname=catcher.host, port=catcher.port)
    controller.start()
    return controller


def assert_each_once(catcher: SMTPCatcher, addresses: list[str]) -> None:
    """Every address got exactly one mail, with the Message-ID of its queued delivery."""
    by_recipient = Counter(rcpt for _sender, rcpts in catcher.envelopes for rcpt in rcpts)
    assert sorted(by_recipient) == sorted(addresses), "a mail is missing or unexpected"
    assert set(by_recipient.values()) == {1}, by_recipient.most_common(3)
    ids = Counter(str(m["Message-ID"]) for m in catcher.messages)
    assert set(ids.values()) == {1}, ids.most_common(3)
    expected = set(
        MailDelivery.objects.filter(to__in=addresses).values_list("message_id", flat=True)
    )
    assert set(ids) == expected


def test_relay_down_during_200_activations_then_back(
    workers: Workers, record_property: Any
) -> None:
    """200 students activate while the relay refuses connections; it comes back: each mail
    arrives exactly once, none lost, none doubled."""
    port = free_port()  # the relay's port: nobody listens yet
    # Short delays for the test (1 s doubling to 4 s), and enough attempts to outlast it.
    worker = workers.start(port, mail_max_attempts=100, mail_retry_max_seconds=4)
    students = import_students(200, "26")
    addresses = [f"wave{i}@example.org" for i in range(200)]
    started = time.monotonic()
    for student, address in zip(students, addresses, strict=True):
        start_activation(student, address)
    requested = time.monotonic() - started
    # The relay is down: the worker tried mails (fresh ones first) and scheduled them again.
    wait_until(
        lambda: MailDelivery.objects.filter(attempts__gte=2).count() >= 20,
        60,
        "failed attempts",
        workers.logs,
    )
    assert MailDelivery.objects.filter(state=MailDelivery.State.SENT).count() == 0
    assert MailDelivery.objects.count() == 200
    catcher = SMTPCatcher("127.0.0.1", port)
    back = time.monotonic()
    relay = start_relay(catcher)
    try:
        wait_until(lambda: queue_depth() == 0, 120, "the queue to drain", workers.logs)
        drained = time.monotonic() - back
        time.sleep(1.5)  # a late duplicate would show now
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(15) == 0, workers.logs()  # graceful stop
    finally:
        relay.stop()
    assert MailDelivery.objects.filter(state=MailDelivery.State.SENT).count() == 200
    assert not MailDelivery.objects.filter(payload__isnull=False).exists()  # codes cleared
    assert_each_once(catcher, addresses)
    attempts = sorted(MailDelivery.objects.values_list("attempts", flat=True))
    record_property("requests_seconds", round(requested, 2))
    record_property("drain_after_relay_back_seconds", round(drained, 2))
    record_property("attempts_max", attempts[-1])
    print(
        f"\n200 activations in {requested:.1f} s with the relay down; all 200 mails delivered"
        f" {drained:.1f} s after it came back; attempts per mail {attempts[0]}-{attempts[-1]}"
    )


class HoldingRelay(SMTPCatcher):
    """A relay that, while ``hold`` is set, receives the whole DATA and then never answers: it
    waits for the client to go away and discards the message (no 250, no responsibility taken,
    as RFC 5321 says). ``holding`` is set once a client waits for the answer."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self.hold = True
        self.holding = threading.Event()
        self.discarded: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.hold:
            return await super().handle_DATA(server, session, envelope)
        self.holding.set()
        try:
            while server.transport is not None and not server.transport.is_closing():
                await asyncio.sleep(0.05)
        finally:
            self.discarded.extend(envelope.rcpt_tos)
        return "451 connection lost before the answer"


def test_worker_killed_while_sending_loses_and_doubles_nothing(
    workers: Workers, record_property: Any
) -> None:
    """SIGKILL while the relay holds the end of DATA: after a restart every mail arrives once."""
    students = import_students(20, "27")
    addresses = [f"kill{i}@example.org" for i in range(20)]
    for student, address in zip(students, addresses, strict=True):
        start_activation(student, address)
    relay = HoldingRelay("127.0.0.1", free_port())
    controller = start_relay(relay)
    try:
        first = workers.start(relay.port, mail_sending_lease_seconds=3)
        assert relay.holding.wait(30), workers.logs()
        held = MailDelivery.objects.get(state=MailDelivery.State.SENDING)
        first.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
        killed_at = time.monotonic()
        wait_until(lambda: bool(relay.discarded), 10, "the relay to see the client gone")
        relay.hold = False
        held.refresh_from_db()
        assert held.state == MailDelivery.State.SENDING  # left behind by the dead worker
        second = workers.start(relay.port, mail_sending_lease_seconds=3)
        wait_until(lambda: queue_depth() == 0, 60, "the queue to drain", workers.logs)
        recovered = time.monotonic() - killed_at
        time.sleep(1.5)
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0, workers.logs()
    finally:
        controller.stop()
    assert relay.discarded == [held.to]
    assert_each_once(relay, addresses)
    held.refresh_from_db()
    assert held.state == MailDelivery.State.SENT and held.attempts == 2
    assert "stopped worker queued again" in workers.logs()
    record_property("recovered_seconds", round(recovered, 2))
    print(f"\nworker killed mid-send; every mail delivered once {recovered:.1f} s later")


def test_mail_failing_n_times_is_on_the_dashboard_and_retried(
    workers: Workers, make_student: Any, agent_client: Client
) -> None:
    """Three refused attempts: "failed" on the dashboard; the button sends it, audited."""
    port = free_port()
    worker = workers.start(port, mail_max_attempts=3)
    start_activation(make_student(), "stuck@example.org")
    wait_until(
        lambda: MailDelivery.objects.filter(state=MailDelivery.State.FAILED).exists(),
        30,
        "three failed attempts",
        workers.logs,
    )
    delivery = MailDelivery.objects.get()
    assert delivery.attempts == 3 and "refused" in delivery.last_error.lower()
    page = page_text(agent_client.get("/helpdesk/"))
    assert "stuck@example.org" in page and "1 échec d'envoi ces 7 derniers jours" in page
    catcher = SMTPCatcher("127.0.0.1", port)
    relay = start_relay(catcher)
    try:
        response = agent_client.post(f"/helpdesk/mail/{delivery.pk}/retry", follow=True)
        assert "Le mail est de nouveau dans la file d'envoi." in page_text(response)
        wait_until(lambda: queue_depth() == 0, 30, "the retried mail", workers.logs)
        time.sleep(1)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(15) == 0
    finally:
        relay.stop()
    assert_each_once(catcher, ["stuck@example.org"])
    delivery.refresh_from_db()
    assert delivery.state == MailDelivery.State.SENT
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.MAIL_RETRIED).count() == 1
    assert "stuck@example.org" not in page_text(agent_client.get("/helpdesk/"))
