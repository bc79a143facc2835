"""Fixtures shared by every mail backend: the store under test, its real receiver, mailboxes.

The contract tests (``test_store_contract.py``) use only these fixtures and the ``MailStore``
API, so each backend runs them unchanged:

- ``mail_backend``: a ``MailHarness`` (parametrized: ``"local"``; the Dovecot branch adds
  ``"dovecot"``), with the store, the address of the backend's real receiver (LMTP) and the
  few hooks a test needs that the ``MailStore`` API does not offer (bulk load, read counting);
- ``store``: its ``MailStore``;
- ``new_mailbox(personal_email=…)``: an active student whose mailbox the backend knows; returns
  the institutional address;
- ``deliver(address, raw, mail_from=…)``: hands a message to the receiver over LMTP/SMTP, as the
  university's MTA does; raises ``smtplib.SMTPRecipientsRefused`` when the recipient is refused;
- ``smtp_server`` (tests/conftest.py): the real SMTP server where redirected mail arrives.

Every fixture here runs on a transactional database: the receiver delivers from its own thread
and must see the students the test created (committed, not inside the test's transaction).
"""

from __future__ import annotations

import smtplib
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from ent.webmail.backends.base import MailStore
from tests.conftest import SMTPCatcher, free_port


@dataclass
class MailHarness:
    """One backend under test: its store, its receiver, and what the tests need beside the API."""

    name: str
    store: MailStore
    host: str
    port: int
    protocol: str  # "lmtp" or "smtp": how ``deliver`` talks to the receiver
    # Make the backend know a mailbox (Dovecot: a passwd-file line; local: nothing to do).
    provision: Callable[[str], None]
    # Put many messages in a folder quickly, as another delivery agent would (oldest first):
    # the backend finds them on its next look, whatever index it keeps.
    fill: Callable[[str, str, Iterable[bytes]], None]
    # ``with message_reads(mailbox) as reads:`` lists every message file (or message body) the
    # backend read during the block: the proof that a page does not read the whole folder.
    message_reads: Callable[[str], AbstractContextManager[list[str]]]


# --- local backend ---------------------------------------------------------------------------

_watched: list[tuple[str, list[str]]] = []
_hook_installed = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Record opens of message files (``…/cur/…`` or ``…/new/…``) under a watched mailbox."""
    if event != "open" or not _watched:
        return
    path = args[0]
    if not isinstance(path, str | Path):
        return
    path = str(path)
    for root, reads in _watched:
        if path.startswith(root) and ("/cur/" in path or "/new/" in path):
            reads.append(path)


@contextmanager
def _local_message_reads(root: Path) -> Iterator[list[str]]:
    global _hook_installed
    if not _hook_installed:  # an audit hook cannot be removed: install one, once
        sys.addaudithook(_audit)
        _hook_installed = True
    reads: list[str] = []
    entry = (str(root) + "/", reads)
    _watched.append(entry)
    try:
        yield reads
    finally:
        _watched.remove(entry)


def _local_harness(settings: Any, tmp_path: Path) -> Iterator[MailHarness]:
    import mailbox as maildir_module
    import os
    import time

    from ent.webmail.backends.local import LocalStore
    from ent.webmail.receiver import receiver_controller

    settings.MAIL_BACKEND = "local"
    settings.MAIL_DIR = tmp_path / "mail"
    store = LocalStore()

    def fill(address: str, folder: str, raws: Iterable[bytes]) -> None:
        # Plain Maildir deliveries behind the store's back (as another delivery agent would),
        # without fsync so that 10,000 take seconds: delivery times one second apart.
        path = store.folder_path(address, folder)
        maildir_module.Maildir(path, create=True)
        start = int(time.time()) - 10**6
        for i, raw in enumerate(raws):
            name = f"{start + i}.M{i}P{os.getpid()}Q{i}.fill"
            with open(path / "tmp" / name, "wb") as f:
                f.write(raw.replace(b"\r\n", b"\n"))
            os.utime(path / "tmp" / name, (start + i, start + i))
            os.rename(path / "tmp" / name, path / "new" / name)

    controller = receiver_controller(host="127.0.0.1", port=free_port(), protocol="lmtp")
    controller.start()
    try:
        yield MailHarness(
            name="local",
            store=store,
            host=controller.hostname,
            port=controller.port,
            protocol="lmtp",
            provision=lambda address: None,
            fill=fill,
            message_reads=lambda address: _local_message_reads(store.mailbox_path(address)),
        )
    finally:
        controller.stop()


# --- the fixtures ----------------------------------------------------------------------------


@pytest.fixture(params=["local"])
def mail_backend(
    request: pytest.FixtureRequest,
    settings: Any,
    tmp_path: Path,
    transactional_db: None,
    smtp_server: SMTPCatcher,
) -> Iterator[MailHarness]:
    """The backend under test, its receiver running, redirects going to ``smtp_server``."""
    if request.param == "local":
        yield from _local_harness(settings, tmp_path)
    else:  # pragma: no cover - each backend branch adds its harness above
        raise AssertionError(f"unknown mail backend {request.param}")


@pytest.fixture
def store(mail_backend: MailHarness) -> MailStore:
    """The ``MailStore`` of the backend under test."""
    return mail_backend.store


@pytest.fixture
def new_mailbox(mail_backend: MailHarness, make_active_student: Any) -> Callable[..., str]:
    """``new_mailbox(personal_email="…", **student_fields)``: an active student's mailbox."""

    def make(personal_email: str = "perso@example.org", **fields: Any) -> str:
        # The activation mail goes to Django's test outbox, not to ``smtp_server``, so the
        # SMTP server sees only what the mail backend sends.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            student = make_active_student(email=personal_email, **fields)
        address = str(student.institutional_email)
        mail_backend.provision(address)
        return address

    return make


@pytest.fixture
def deliver(mail_backend: MailHarness) -> Callable[..., None]:
    """``deliver(address, raw, mail_from="…")``: the MTA hands a message to the receiver."""

    def send(address: str, raw: bytes, mail_from: str = "alice.martin@example.org") -> None:
        client_class = smtplib.LMTP if mail_backend.protocol == "lmtp" else smtplib.SMTP
        with client_class(mail_backend.host, mail_backend.port, timeout=30) as client:
            refused = client.sendmail(mail_from, [address], raw)
        assert not refused, refused

    return send
