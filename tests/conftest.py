"""Shared fixtures: settings for tests, a real SMTP server, student factories, the clock."""

from __future__ import annotations

import contextlib
import email
import email.policy
import html
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from ent.core import clock


@pytest.fixture(autouse=True)
def _fast_hasher_and_real_clock(settings: Any) -> Iterator[None]:
    """MD5 keeps the suite fast; tests/accounts/test_hashers.py checks argon2id itself."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    clock.reset()
    yield
    clock.reset()


@pytest.fixture(autouse=True)
def _on_commit_runs_at_once(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside a test wrapped in a transaction (the default ``django_db``), nothing commits, so
    mails queued with ``on_commit`` would never leave: send them when queued instead.
    Transactional tests (``transaction=True``, ``live_server``) keep the real behaviour, and
    tests/core/test_mail.py checks that a rolled-back change sends nothing."""
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction")) or any(
        name in request.fixturenames for name in ("transactional_db", "live_server")
    )
    if not transactional:
        monkeypatch.setattr(
            "ent.core.mail.transaction.on_commit",
            lambda func, using=None, robust=False: func(),
        )


@pytest.fixture(autouse=True)
def _mail_queue_drained(request: pytest.FixtureRequest) -> Iterator[None]:
    """Mail is queued in the database and sent by a worker (``ent worker``). In tests the
    worker's own code path runs in this process as soon as the change that queued a mail
    commits (at once inside a test wrapped in a transaction, see ``_on_commit_runs_at_once``),
    so ``mail.outbox`` and the SMTP server see the mail right after the request.

    ``@pytest.mark.mail_queue_manual`` leaves the queue alone: the test drains it itself with
    ``mail_queue_run()`` or runs real ``ent worker`` processes (tests/core/test_mail_queue*.py).
    """
    if request.node.get_closest_marker("mail_queue_manual"):
        yield
        return
    from django.db import transaction
    from django_tasks.signals import task_enqueued

    from ent.core.mail import MAIL_QUEUE, mail_queue_run

    def drain_after_commit(sender: Any, task_result: Any, **kwargs: Any) -> None:
        if task_result.task.queue_name == MAIL_QUEUE:
            transaction.on_commit(mail_queue_run)

    task_enqueued.connect(drain_after_commit, dispatch_uid="tests-mail-queue-drain")
    try:
        yield
    finally:
        task_enqueued.disconnect(dispatch_uid="tests-mail-queue-drain")


def process_group_stop(process: Any, *, grace: float) -> None:
    """Stop a server started in a process group of its own (``start_new_session=True``):
    SIGTERM to the group, then SIGKILL if it has not exited within ``grace`` seconds."""
    import os
    import signal
    import subprocess

    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def free_ports(count: int) -> list[int]:
    """``count`` different TCP ports of 127.0.0.1 nobody listens on right now.

    The sockets stay bound until all are chosen: the kernel picks each ``bind(0)`` port at
    random, so ports chosen one after the other, each released at once, can repeat (about one
    chance in 14,000 per pair; a suite starts Dovecot with three ports some 300 times).
    Another process can still take a port before its server binds it: servers that start from
    these ports retry with new ones when their bind fails (``tests/webmail/dovecot.py``).
    """
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            s = stack.enter_context(socket.socket())
            s.bind(("127.0.0.1", 0))
            ports.append(int(s.getsockname()[1]))
        return ports


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    return free_ports(1)[0]


@dataclass
class SMTPCatcher:
    """A real SMTP server (aiosmtpd) in a thread; keeps what it receives."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._cond:
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self._cond.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Block until ``count`` messages arrived."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
        assert len(self.messages) >= count, f"expected {count} mails, got {len(self.messages)}"
        return self.messages


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SMTPCatcher]:
    """Route the project's mail through a real SMTP server for the test."""
    catcher = SMTPCatcher("127.0.0.1", free_port())
    controller = Controller(catcher, hostname=catcher.host, port=catcher.port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = catcher.host
    settings.EMAIL_PORT = catcher.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield catcher
    finally:
        controller.stop()


def text_body(message: EmailMessage) -> str:
    """The text/plain part of a received mail."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_body(message: EmailMessage) -> str:
    """The text/html part of a received mail."""
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


_counter = iter(range(1, 10**9))


@pytest.fixture
def make_student(db: None) -> Any:
    """Create a student through the import service: ``make_student(first_name="Ada")``."""
    from ent.directory.importing import Row
    from ent.directory.models import Student
    from ent.directory.services import students_import

    def make(**overrides: Any) -> Student:
        n = next(_counter)
        values: dict[str, Any] = {
            "line": 0,
            "student_number": f"2{n:07d}",
            "ine": f"{n:09d}ZZ",
            "last_name": "Pascal",
            "first_name": "Blaise",
            "birth_date": date(2004, 6, 19),
            "program": "Licence Mathématiques",
        }
        values.update(overrides)
        report = students_import(rows=[Row(**values)])
        assert not report.errors, report.errors
        return Student.objects.get(student_number=values["student_number"])

    return make


GOOD_PASSWORD = "Ent.Perpignan2026"


def start_activation(student: Any, email: str, password: str = GOOD_PASSWORD) -> None:
    """Activation step 2 done (account pending), the link not followed yet."""
    from ent.accounts import activation

    activation.activation_start(
        student=student, email=email, password=password, charter_accepted=True, ip=None
    )


@pytest.fixture
def make_active_student(make_student: Any) -> Any:
    """``make_active_student(email=..., **student_fields)``: a student who went through the
    whole activation (password ``GOOD_PASSWORD``, verified personal address)."""
    from django.core import mail

    from ent.accounts import activation
    from ent.core.codes import CodeStatus
    from ent.core.mail import mail_queue_run

    def make(email: str = "sophie@example.org", **overrides: Any) -> Any:
        student = make_student(**overrides)
        before = len(mail.outbox)
        start_activation(student, email)
        mail_queue_run()  # already done unless the test drains the queue itself
        assert len(mail.outbox) == before + 1, "activation mail not sent"
        code = mail.outbox[-1].body.split("code=")[1].split()[0]
        status = activation.activation_confirm(code=code, ip=None)
        assert status is CodeStatus.DONE
        student.refresh_from_db()
        return student

    return make


@pytest.fixture
def active_student(make_active_student: Any) -> Any:
    """A student (Sophie Germain) whose account went through the whole activation."""
    return make_active_student(first_name="Sophie", last_name="Germain")


def page_text(response: Any) -> str:
    """A response body with HTML entities decoded (Django escapes ' as &#x27;)."""
    return html.unescape(response.content.decode())


# --- Help desk (helpdesk branch): staff accounts with a TOTP device, signed in for real ---------

STAFF_PASSWORD = "Assistance.Perpi2026"


def totp_code(device: Any) -> str:
    """The current code of a django-otp TOTP device, as an authenticator application shows it."""
    from django_otp.oath import totp

    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):0{device.digits}d}"


@pytest.fixture
def make_staff(db: None) -> Any:
    """``make_staff("agent")``: a staff account with a password and a confirmed TOTP device."""
    from django.contrib.auth.models import Group
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from ent.accounts.models import Account

    def make(role: str = "agent", username: str | None = None, device: bool = True) -> Any:
        name = username or f"{role}{next(_counter)}"
        account = Account.objects.create_user(
            name, STAFF_PASSWORD, personal_email=f"{name}@univ.example"
        )
        account.groups.set([Group.objects.get_or_create(name=role)[0]])
        if device:
            TOTPDevice.objects.create(user=account, name="ENT", confirmed=True)
        return account

    return make


def staff_sign_in(client: Any, account: Any) -> None:
    """Sign in at /helpdesk/login with the password, then the current TOTP code."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    response = client.post(
        "/helpdesk/login", {"username": account.username, "password": STAFF_PASSWORD}
    )
    assert response.status_code == 302 and response["Location"].endswith("/helpdesk/login/code")
    device = TOTPDevice.objects.get(user=account, confirmed=True)
    response = client.post("/helpdesk/login/code", {"code": totp_code(device)})
    assert response.status_code == 302 and response["Location"] == "/helpdesk/", response


@pytest.fixture
def agent_client(make_staff: Any) -> Any:
    """A test client signed in to the help desk as an agent (password + TOTP)."""
    from django.test import Client

    client = Client()
    client.staff = make_staff("agent")  # type: ignore[attr-defined]
    staff_sign_in(client, client.staff)  # type: ignore[attr-defined]
    return client


@pytest.fixture
def admin_client(make_staff: Any) -> Any:
    """A test client signed in to the help desk as an administrator (password + TOTP)."""
    from django.test import Client

    client = Client()
    client.staff = make_staff("administrator")  # type: ignore[attr-defined]
    staff_sign_in(client, client.staff)  # type: ignore[attr-defined]
    return client


# --- Production (prod branch): Redis as the shared state of every instance -----------------------

# The suite's own Redis database (others use 0); every test also gets its own key prefix.
TEST_REDIS_URL = "redis://127.0.0.1:6379/11"


def redis_prefix_clear(prefix: str) -> None:
    """Delete every key of ``prefix`` from the test Redis database."""
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_state(settings: Any) -> Iterator[str]:
    """This test keeps its shared state in Redis, as ``ENT_CACHE_URL`` does: throttling counters,
    sessions and Django's cache, under a key prefix of its own. Yields the prefix."""
    import uuid

    prefix = f"ent-test-{uuid.uuid4().hex[:12]}"
    settings.CACHE_URL = TEST_REDIS_URL
    settings.CACHE_KEY_PREFIX = prefix
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": TEST_REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    settings.SESSION_ENGINE = "ent.core.session_cache"
    try:
        yield prefix
    finally:
        redis_prefix_clear(prefix)


@pytest.fixture(params=["database", "redis"])
def shared_state(request: pytest.FixtureRequest) -> str:
    """Run the test twice: shared state in the database, then in Redis (``ENT_CACHE_URL``)."""
    if request.param == "redis":
        request.getfixturevalue("redis_state")
    return str(request.param)
