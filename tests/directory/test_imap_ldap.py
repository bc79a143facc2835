"""IMAP sign-in with the ENT password (issue 15 §3): a real Dovecot 2.3 from docs/dovecot/ with
the LDAP passdb/userdb of ent-dovecot-ldap.conf.ext, against a real slapd from docs/ldap/.

The student is a real active account (activation through ENT's services, ENT's argon2id
hasher); the test writes their entry (``entry_for``) with ldapadd/ldapmodify bound as ENT, as
the writer will. A mail client then signs in by IMAP LOGIN with the institutional address or
the student number and the ENT password; the webmail's master user still signs in as the
student in the same Dovecot.
"""

from __future__ import annotations

import base64
import imaplib
import itertools
import secrets
import smtplib
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import argon2
import pytest

from ent.accounts.lifecycle import account_lock
from ent.accounts.models import Account
from ent.accounts.password_change import password_change
from ent.directory.ldap_entry import MANAGED_ATTRIBUTES, Entry, entry_for
from ent.directory.models import Student
from tests.conftest import GOOD_PASSWORD, free_port
from tests.directory.slapd import SlapdServer
from tests.webmail.dovecot import MASTER_USER, DirectoryAccess, DovecotServer

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
NEW_PASSWORD = "Perpignan.Mail2027"


def _ldif_value(name: str, value: str) -> str:
    """``name: value``, or ``name:: base64`` when LDIF needs it (RFC 2849)."""
    safe = (
        value.isascii()
        and value.isprintable()
        and not value.startswith((" ", ":", "<"))
        and not value.endswith(" ")
    )
    if safe:
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode()).decode()}"


def add_ldif(entry: Entry) -> str:
    lines = [_ldif_value("dn", entry.dn)]
    for name, values in entry.attributes.items():
        lines += [_ldif_value(name, v) for v in values]
    return "\n".join(lines) + "\n"


def replace_ldif(entry: Entry) -> str:
    """The writer's idempotent update: every managed attribute replaced, the absent ones
    removed (a "replace" without values deletes the attribute, present or not)."""
    lines = [_ldif_value("dn", entry.dn), "changetype: modify"]
    for name in MANAGED_ATTRIBUTES:
        if name == "objectClass":
            continue
        lines.append(f"replace: {name}")
        lines += [_ldif_value(name, v) for v in entry.attributes.get(name, [])]
        lines.append("-")
    return "\n".join(lines) + "\n"


def write_entry(slapd: SlapdServer, student: Student, *, add: bool = False) -> Entry:
    account = Account.objects.get(student=student)
    entry = entry_for(student, account, now=NOW)
    if add:
        slapd.ldap("ldapadd", input=add_ldif(entry))
    else:
        slapd.ldap("ldapmodify", input=replace_ldif(entry))
    return entry


@pytest.fixture
def directory_settings(settings: Any, slapd: SlapdServer) -> None:
    """ENT's production hasher (at its smallest memory cost) and the test directory."""
    settings.PASSWORD_HASHERS = ["ent.accounts.hashers.ENTArgon2PasswordHasher"]
    settings.ARGON2_MEMORY_COST = 8192
    settings.LDAP_PEOPLE_DN = slapd.people_dn
    settings.LDAP_UID = "student_number"
    settings.EPPN_SCOPE = "univ-perp.fr"


class ClientsFromLoopback(DovecotServer):
    """The fixture's Dovecot, taking the test's clients from 127.1.0.0/16 as it takes them
    from 127.0.0.1 (``imap_login``): a local, hence secured, connection where plaintext LOGIN
    is allowed (production has ssl = required)."""

    def render(self) -> str:
        return super().render() + "login_trusted_networks = 127.1.0.0/16\n"


@pytest.fixture
def dovecot_ldap(slapd: SlapdServer) -> Iterator[DovecotServer]:
    """Dovecot from the README's example with the LDAP include on, bound to the test slapd
    through its own read-only account (docs/dovecot/dovecot-ldap.conf.ext). Nothing here sends
    mail (no Sieve redirect): its relay is a port nobody listens on."""
    password = secrets.token_urlsafe(18)
    hashed = argon2.PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1).hash(password)
    bind_dn = f"cn=dovecot,{slapd.base_dn}"
    slapd.ldap(
        "ldapadd",
        input=(
            f"dn: {bind_dn}\nobjectClass: organizationalRole\n"
            f"objectClass: simpleSecurityObject\ncn: dovecot\nuserPassword: {{ARGON2}}{hashed}\n"
        ),
    )
    access = DirectoryAccess(
        url=slapd.url, bind_dn=bind_dn, bind_password=password, people_dn=slapd.people_dn
    )
    server = ClientsFromLoopback(smtp_host="127.0.0.1", smtp_port=free_port(), ldap=access)
    try:
        server.start()
        yield server
    finally:
        server.stop()


class IMAPFrom(imaplib.IMAP4):
    """An IMAP client connecting from a given loopback address (127.0.0.0/8 is all local)."""

    def __init__(self, port: int, source: str) -> None:
        self.source = source
        super().__init__("127.0.0.1", port, timeout=30)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return socket.create_connection(
            (self.host, self.port), timeout, source_address=(self.source, 0)
        )


_sources = itertools.count()


def imap_login(server: DovecotServer, user: str, password: str) -> bool:
    """Whether IMAP LOGIN succeeds (a mail client's sign-in).

    Each sign-in comes from a new loopback address: Dovecot delays every failure by 2 s and
    doubles the delay for the next attempt from the same address (up to 15 s), which would
    make the test slow, not different."""
    n = next(_sources)
    source = f"127.1.{n // 250}.{n % 250 + 1}"
    with IMAPFrom(server.imap_port, source) as imap:
        try:
            imap.login(user, password)
        except imaplib.IMAP4.error:
            return False
        imap.logout()
        return True


def master_login(server: DovecotServer, address: str) -> list[bytes]:
    """The webmail's sign-in (SASL PLAIN, authzid = the student); returns INBOX's messages."""
    with imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30) as imap:
        secret = f"{address}\0{MASTER_USER}\0{server.master_password}".encode()
        imap.authenticate("PLAIN", lambda _challenge: secret)
        imap.select("INBOX")
        _typ, data = imap.search(None, "ALL")
        imap.logout()
        return [n for n in (data[0] or b"").split()]


def append_as(server: DovecotServer, user: str, password: str, subject: str) -> None:
    with imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30) as imap:
        imap.login(user, password)
        raw = f"From: a@example.org\r\nSubject: {subject}\r\n\r\nbody\r\n".encode()
        imap.append("INBOX", None, None, raw)
        imap.logout()


def subjects(server: DovecotServer, user: str, password: str) -> list[str]:
    with imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=30) as imap:
        imap.login(user, password)
        imap.select("INBOX", readonly=True)
        _typ, data = imap.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        imap.logout()
    return sorted(
        part[1].decode().strip().removeprefix("Subject: ")
        for part in data
        if isinstance(part, tuple)
    )


def test_imap_sign_in_with_the_ent_password(
    directory_settings: None,
    make_active_student: Any,
    make_staff: Any,
    slapd: SlapdServer,
    dovecot_ldap: DovecotServer,
) -> None:
    student = make_active_student(first_name="Léa", last_name="Noël")
    account = Account.objects.get(student=student)
    assert account.password.startswith("argon2$argon2id$")
    entry = write_entry(slapd, student, add=True)
    assert entry.attributes["userPassword"] == ["{ARGON2}" + account.password[len("argon2") :]]
    address, number = student.institutional_email, student.student_number
    logs = dovecot_ldap.logs

    # The institutional address or the student number, and the ENT password.
    assert imap_login(dovecot_ldap, address, GOOD_PASSWORD), logs()
    assert imap_login(dovecot_ldap, number, GOOD_PASSWORD), logs()
    assert imap_login(dovecot_ldap, address.upper(), GOOD_PASSWORD), logs()
    assert not imap_login(dovecot_ldap, address, GOOD_PASSWORD + "x")
    assert not imap_login(dovecot_ldap, number, "")
    assert not imap_login(dovecot_ldap, "p0000000@etudiant.univ-perp.fr", GOOD_PASSWORD)

    # Both names open the same mailbox, the one named by the address (the webmail's).
    append_as(dovecot_ldap, number, GOOD_PASSWORD, "by number")
    append_as(dovecot_ldap, address, GOOD_PASSWORD, "by address")
    assert subjects(dovecot_ldap, address, GOOD_PASSWORD) == ["by address", "by number"]
    assert dovecot_ldap.maildir(address).is_dir()
    # The webmail's master user signs in as the student in the same Dovecot.
    assert len(master_login(dovecot_ldap, address)) == 2, logs()

    # A password change in ENT, written to the entry as the writer will: the old one fails.
    password_change(
        account=account,
        current_password=GOOD_PASSWORD,
        new_password=NEW_PASSWORD,
        ip=None,
        keep_session_key=None,
    )
    student.refresh_from_db()
    new_entry = write_entry(slapd, student)
    assert new_entry.attributes["userPassword"] != entry.attributes["userPassword"]
    assert not imap_login(dovecot_ldap, address, GOOD_PASSWORD)
    assert not imap_login(dovecot_ldap, number, GOOD_PASSWORD)
    assert imap_login(dovecot_ldap, address, NEW_PASSWORD), logs()
    assert imap_login(dovecot_ldap, number, NEW_PASSWORD), logs()

    # Locked by the help desk: the entry loses userPassword, no mail client signs in.
    account_lock(account=account, actor=make_staff("agent"), ip=None)
    locked = write_entry(slapd, student)
    assert "userPassword" not in locked.attributes
    assert not imap_login(dovecot_ldap, address, NEW_PASSWORD)
    assert not imap_login(dovecot_ldap, number, NEW_PASSWORD)


def test_master_user_and_passwd_file_mailboxes_beside_the_directory(
    directory_settings: None,
    make_active_student: Any,
    slapd: SlapdServer,
    dovecot_ldap: DovecotServer,
) -> None:
    """The mailboxes of the passwd-file (every other Dovecot test) still work with the LDAP
    include on, and the master user signs in to both kinds."""
    other = "p2100999@etudiant.univ-perp.fr"
    own_password = dovecot_ldap.add_mailbox(other)
    assert imap_login(dovecot_ldap, other, own_password), dovecot_ldap.logs()
    assert master_login(dovecot_ldap, other) == []
    student = make_active_student()
    write_entry(slapd, student, add=True)
    assert master_login(dovecot_ldap, student.institutional_email) == []
    # The university's MTA delivers to a student of the directory (LDAP userdb) over LMTP.
    with smtplib.LMTP("127.0.0.1", dovecot_ldap.lmtp_port, timeout=30) as lmtp:
        raw = b"From: a@example.org\r\nSubject: hello\r\nMessage-ID: <imap-ldap@test>\r\n\r\nhi\r\n"
        lmtp.sendmail("a@example.org", [student.institutional_email], raw)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            lmtp.sendmail("a@example.org", ["nobody@etudiant.univ-perp.fr"], raw)
    assert len(master_login(dovecot_ldap, student.institutional_email)) == 1
    # A master login to a mailbox nobody has is refused.
    with pytest.raises(imaplib.IMAP4.error):
        master_login(dovecot_ldap, "nobody@etudiant.univ-perp.fr")
