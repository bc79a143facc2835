"""What only the ``dovecot`` backend has: the master user, the Sieve script it writes next to the
student's own scripts, Sieve escaping, the automatic reply, errors of an unreachable server.

The shared behaviour (listing, paging, search, forwarding with and without a copy) is in
``test_store_contract.py``, which runs on the same real Dovecot 2.3.
"""

from __future__ import annotations

import smtplib
import socket
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
from sievelib import managesieve

from ent.webmail.backends import mail_store
from ent.webmail.backends.base import FolderRole, Forwarding, MailStoreError, Vacation
from ent.webmail.backends.dovecot import SCRIPT_NAME, DovecotStore, sieve_string
from tests.conftest import SMTPCatcher, free_port
from tests.webmail.dovecot import CONFIG_EXAMPLE, MASTER_USER, DovecotServer
from tests.webmail.mails import make_mail

_numbers = count(1)


@pytest.fixture
def box(dovecot_server: DovecotServer) -> str:
    """A student mailbox that Dovecot knows."""
    address = f"p21{next(_numbers):05d}@etudiant.univ-perp.fr"
    dovecot_server.add_mailbox(address)
    return address


@pytest.fixture
def lmtp(dovecot_server: DovecotServer) -> Callable[..., None]:
    """``lmtp(address, raw, mail_from=…)``: deliver to Dovecot as the university's MTA does."""

    def send(address: str, raw: bytes, mail_from: str = "alice.martin@example.org") -> None:
        with smtplib.LMTP("127.0.0.1", dovecot_server.lmtp_port, timeout=30) as client:
            assert not client.sendmail(mail_from, [address], raw)

    return send


@contextmanager
def student_sieve(server: DovecotServer, address: str) -> Iterator[managesieve.Client]:
    """ManageSieve as the student with their own password: their other mail client."""
    client = managesieve.Client("127.0.0.1", server.sieve_port)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # plaintext on 127.0.0.1
        assert client.connect(address, server.add_mailbox(address), authmech="PLAIN")
    try:
        yield client
    finally:
        client.logout()


def inbox_subjects(store: DovecotStore, address: str, folder: str = "INBOX") -> list[str]:
    return [m.subject for m in store.messages(address, folder).messages]


# --- the configuration example and the server --------------------------------------------------


def test_the_readme_example_is_the_configuration_under_test(
    dovecot_server: DovecotServer,
) -> None:
    rendered = (dovecot_server.root / "dovecot.conf").read_text()
    example = CONFIG_EXAMPLE.read_text()
    # Everything but the lines marked [test] is the example as printed.
    kept = [line for line in example.splitlines() if line in rendered.splitlines()]
    assert len(kept) > 0.9 * len(example.splitlines())
    for needed in (
        "master = yes",
        "result_success = continue",
        "mail_plugins = $mail_plugins sieve",
        "sieve_redirect_envelope_from = orig_recipient",
        "special_use = \\Sent",
    ):
        assert needed in rendered
    assert dovecot_server.startup_seconds < 10


def test_sieve_capabilities_include_what_ent_writes(
    dovecot_server: DovecotServer, box: str
) -> None:
    with student_sieve(dovecot_server, box) as client:
        extensions = set(client.get_sieve_capabilities())
    assert {"copy", "include", "vacation", "date", "relational", "fileinto"} <= extensions


def test_the_master_user_needs_its_password(
    dovecot_server: DovecotServer, box: str, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    store = DovecotStore(
        imap_url=f"imap://127.0.0.1:{dovecot_server.imap_port}",
        managesieve_url=f"sieve://127.0.0.1:{dovecot_server.sieve_port}",
        master_user=MASTER_USER,
        master_password_file=str(wrong),
    )
    with pytest.raises(MailStoreError):
        store.folders(box)
    with pytest.raises(MailStoreError):
        store.forwarding(box)


def test_a_mailbox_dovecot_does_not_know_is_refused(dovecot_store: DovecotStore) -> None:
    """result_success = continue: the master password alone opens no unknown mailbox."""
    with pytest.raises(MailStoreError):
        dovecot_store.folders("personne@etudiant.univ-perp.fr")
    with pytest.raises(MailStoreError):
        dovecot_store.forwarding("personne@etudiant.univ-perp.fr")


def test_settings_select_the_backend_and_read_the_password_from_its_file(
    dovecot_store: DovecotStore, box: str, settings: object, tmp_path: Path
) -> None:
    store = mail_store()
    assert isinstance(store, DovecotStore)
    assert {f.role for f in store.folders(box)} >= {FolderRole.INBOX, FolderRole.SENT}
    settings.IMAP_MASTER_PASSWORD_FILE = str(tmp_path / "absent")  # type: ignore[attr-defined]
    with pytest.raises(MailStoreError, match="password file"):
        mail_store().folders(box)


def test_unreachable_servers_are_mail_store_errors(dovecot_server: DovecotServer, box: str) -> None:
    closed = free_port()
    store = DovecotStore(
        imap_url=f"imap://127.0.0.1:{closed}",
        managesieve_url=f"sieve://127.0.0.1:{closed}",
        master_user=MASTER_USER,
        master_password_file=str(dovecot_server.master_password_file),
    )
    with pytest.raises(MailStoreError):
        store.messages(box, "INBOX")
    with pytest.raises(MailStoreError):
        store.forwarding_set(box, Forwarding("perso@example.org", keep_copy=True))


def test_special_use_folders_are_created_when_the_server_has_none(
    smtp_server: SMTPCatcher,
) -> None:
    server = DovecotServer(smtp_host=smtp_server.host, smtp_port=smtp_server.port, autocreate=False)
    server.start()
    try:
        address = "p2199999@etudiant.univ-perp.fr"
        server.add_mailbox(address)
        store = DovecotStore(
            imap_url=f"imap://127.0.0.1:{server.imap_port}",
            managesieve_url=f"sieve://127.0.0.1:{server.sieve_port}",
            master_user=MASTER_USER,
            master_password_file=str(server.master_password_file),
        )
        folders = {f.role: f.name for f in store.folders(address)}
        assert folders[FolderRole.SENT] == "Sent" and folders[FolderRole.TRASH] == "Trash"
        assert (server.maildir(address) / ".Sent").is_dir()
        # Created once: the next look finds them by their special-use flag.
        assert {f.role: f.name for f in store.folders(address)} == folders
    finally:
        server.stop()


def test_listing_without_sort_falls_back_to_search(
    dovecot_store: DovecotStore,
    box: str,
    lmtp: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from imapclient import IMAPClient

    for n in range(3):
        lmtp(box, make_mail(to=box, subject=f"Sans SORT {n}"))
    original = IMAPClient.has_capability
    monkeypatch.setattr(
        IMAPClient, "has_capability", lambda self, c: c != "SORT" and original(self, c)
    )
    assert inbox_subjects(dovecot_store, box) == ["Sans SORT 2", "Sans SORT 1", "Sans SORT 0"]


def test_encoded_headers_are_decoded(
    dovecot_store: DovecotStore, box: str, lmtp: Callable[..., None]
) -> None:
    raw = (
        b"From: =?iso-8859-1?q?Ren=E9_Lef=E8vre?= <rene@example.org>\r\n"
        b"To: " + box.encode() + b"\r\n"
        b"Subject: =?utf-8?b?UsOpc3VsdGF0cyBkdSBzZW1lc3RyZQ==?=\r\n"
        b"Date: Mon, 2 Nov 2026 09:30:00 +0100\r\n"
        b"Message-ID: <rfc2047.1@example.org>\r\n\r\nCorps.\r\n"
    )
    lmtp(box, raw)
    (summary,) = dovecot_store.messages(box, "INBOX").messages
    assert summary.subject == "Résultats du semestre"
    assert summary.sender == "René Lefèvre <rene@example.org>"
    assert summary.date == datetime(2026, 11, 2, 8, 30, tzinfo=UTC)


def test_a_search_cannot_inject_imap_commands(
    dovecot_store: DovecotStore, box: str, lmtp: Callable[..., None]
) -> None:
    lmtp(box, make_mail(to=box, subject="Garder"))
    for query in ('x"\r\nA1 DELETE INBOX\r\n', "\\", '"', "x\x00y", "Garder\r\n"):
        dovecot_store.messages(box, "INBOX", query=query)
    assert inbox_subjects(dovecot_store, box) == ["Garder"]
    assert next(f.name for f in dovecot_store.folders(box)) == "INBOX"


# --- the Sieve script -----------------------------------------------------------------------


def test_the_script_is_the_issue_s_redirect(
    dovecot_server: DovecotServer, dovecot_store: DovecotStore, box: str
) -> None:
    dovecot_store.forwarding_set(box, Forwarding("sophie.perso@example.org", keep_copy=True))
    with student_sieve(dovecot_server, box) as client:
        active, _ = client.listscripts()
        script = client.getscript(SCRIPT_NAME)
    assert active == SCRIPT_NAME
    assert 'require ["copy"];\nredirect :copy "sophie.perso@example.org";' in script

    dovecot_store.forwarding_set(box, Forwarding("sophie.perso@example.org", keep_copy=False))
    with student_sieve(dovecot_server, box) as client:
        script = client.getscript(SCRIPT_NAME)
    assert "require" not in script
    assert '\nredirect "sophie.perso@example.org";' in script

    dovecot_store.forwarding_set(box, None)
    with student_sieve(dovecot_server, box) as client:
        assert client.listscripts() == (None, [])


STUDENT_SCRIPT = """require ["fileinto"];
if header :contains "subject" "[moodle]" {
  fileinto "Cours";
  stop;
}
"""


def test_the_student_s_own_active_script_is_kept_and_still_works(
    dovecot_server: DovecotServer,
    dovecot_store: DovecotStore,
    box: str,
    lmtp: Callable[..., None],
    smtp_server: SMTPCatcher,
) -> None:
    """A student whose other mail client had made "roundcube" the active script."""
    dovecot_store.folders(box)
    with student_sieve(dovecot_server, box) as client:
        assert client.putscript("roundcube", STUDENT_SCRIPT)
        assert client.setactive("roundcube")
    from imapclient import IMAPClient

    with IMAPClient("127.0.0.1", dovecot_server.imap_port, ssl=False) as imap:
        imap.login(box, dovecot_server.add_mailbox(box))
        imap.create_folder("Cours")

    dovecot_store.forwarding_set(box, Forwarding("sophie.perso@example.org", keep_copy=True))
    dovecot_store.vacation_set(box, Vacation(subject="Absente", body="De retour lundi."))
    with student_sieve(dovecot_server, box) as client:
        active, scripts = client.listscripts()
        assert client.getscript("roundcube").strip() == STUDENT_SCRIPT.strip()
        assert 'include :personal :optional "roundcube";' in client.getscript(SCRIPT_NAME)
    assert active == SCRIPT_NAME and scripts == ["roundcube"]

    # The student's rule files the course mail; ENT's rule (before it) forwards it first.
    lmtp(box, make_mail(to=box, subject="[moodle] Devoir 3"))
    lmtp(box, make_mail(to=box, subject="Autre chose"))
    smtp_server.wait_for(3)  # two redirects and one vacation reply (same sender, once)
    redirected = sorted(
        str(m["Subject"]) for m in smtp_server.messages if m["Subject"] != "Absente"
    )
    assert redirected == ["Autre chose", "[moodle] Devoir 3"]
    assert inbox_subjects(dovecot_store, box, "Cours") == ["[moodle] Devoir 3"]
    assert inbox_subjects(dovecot_store, box) == ["Autre chose"]

    # Another write keeps the include although ENT's script is now the active one.
    dovecot_store.forwarding_set(box, Forwarding("autre@example.net", keep_copy=True))
    with student_sieve(dovecot_server, box) as client:
        assert 'include :personal :optional "roundcube";' in client.getscript(SCRIPT_NAME)

    # Removing every ENT rule gives the student's script its place back.
    dovecot_store.forwarding_set(box, None)
    dovecot_store.vacation_set(box, None)
    with student_sieve(dovecot_server, box) as client:
        assert client.listscripts() == ("roundcube", [])
    lmtp(box, make_mail(to=box, subject="[moodle] Devoir 4"))
    assert inbox_subjects(dovecot_store, box, "Cours") == ["[moodle] Devoir 4", "[moodle] Devoir 3"]


def test_a_script_the_student_activated_later_wins_and_is_included_next_time(
    dovecot_server: DovecotServer, dovecot_store: DovecotStore, box: str
) -> None:
    dovecot_store.forwarding_set(box, Forwarding("sophie.perso@example.org", keep_copy=True))
    with student_sieve(dovecot_server, box) as client:
        assert client.putscript("perso", 'require ["fileinto"];\n')
        assert client.setactive("perso")
    assert dovecot_store.forwarding(box) is None  # ENT's rule is no longer in force
    dovecot_store.forwarding_set(box, Forwarding("sophie.perso@example.org", keep_copy=False))
    assert dovecot_store.forwarding(box) == Forwarding("sophie.perso@example.org", False)
    with student_sieve(dovecot_server, box) as client:
        assert 'include :personal :optional "perso";' in client.getscript(SCRIPT_NAME)


@pytest.mark.parametrize(
    "address",
    [
        'x@example.org"; discard; "',
        "x@example.org\r\ndiscard;",
        'x"@example.org',
        "x\\@example.org",
        "a b@example.org",
        "<x@example.org>",
        "",
    ],
)
def test_a_forwarding_address_cannot_write_sieve(
    dovecot_server: DovecotServer, dovecot_store: DovecotStore, box: str, address: str
) -> None:
    with pytest.raises(MailStoreError):
        dovecot_store.forwarding_set(box, Forwarding(address, keep_copy=True))
    with student_sieve(dovecot_server, box) as client:
        assert client.listscripts() == (None, [])


def test_sieve_strings_escape_quotes_and_backslashes() -> None:
    assert sieve_string('a"b\\c') == '"a\\"b\\\\c"'
    assert sieve_string("ligne 1\nligne 2") == '"ligne 1\nligne 2"'


HOSTILE_BODY = 'Absente.";\ndiscard;\nvacation "x\\\n"# pas un commentaire\r\n${hex:41}\ntext:\n.\n'


def test_vacation_text_stays_text_and_the_reply_goes_out(
    dovecot_store: DovecotStore,
    box: str,
    lmtp: Callable[..., None],
    smtp_server: SMTPCatcher,
) -> None:
    subject = 'Congés "été" \\ 2026\r\nBcc: victime@example.org'
    dovecot_store.vacation_set(box, Vacation(subject=subject, body=HOSTILE_BODY))
    got = dovecot_store.vacation(box)
    assert got is not None
    assert got.subject == 'Congés "été" \\ 2026 Bcc: victime@example.org'  # one header line
    assert got.body == HOSTILE_BODY.replace("\r\n", "\n")

    lmtp(box, make_mail(to=box, subject="Question"), mail_from="alice.martin@example.org")
    (reply,) = smtp_server.wait_for(1)
    assert smtp_server.envelopes[0][1] == ["alice.martin@example.org"]
    assert reply["Subject"] == got.subject and reply["Bcc"] is None
    assert reply.get_body().get_content().replace("\r\n", "\n").strip() == got.body.strip()  # type: ignore[union-attr]
    assert inbox_subjects(dovecot_store, box) == ["Question"]  # not discarded


@pytest.mark.parametrize(("days", "replies"), [(-1, 0), (1, 1)])
def test_vacation_until_a_date(
    dovecot_store: DovecotStore,
    box: str,
    lmtp: Callable[..., None],
    smtp_server: SMTPCatcher,
    days: int,
    replies: int,
) -> None:
    until = datetime.now(UTC) + timedelta(days=days)
    dovecot_store.vacation_set(box, Vacation(subject="Absente", body="Absente.", until=until))
    assert dovecot_store.vacation(box) == Vacation("Absente", "Absente.", until)
    dovecot_store.forwarding_set(box, Forwarding("sophie.perso@example.org", keep_copy=True))
    lmtp(box, make_mail(to=box, subject="Question"))
    smtp_server.wait_for(1 + replies)  # the redirect tells the delivery ran
    import time

    time.sleep(0.5)  # a reply, if any, leaves together with the redirect
    subjects = sorted(str(m["Subject"]) for m in smtp_server.messages)
    assert subjects == sorted(["Question"] + ["Absente"] * replies)


def test_a_naive_vacation_end_is_refused(dovecot_store: DovecotStore, box: str) -> None:
    with pytest.raises(MailStoreError):
        dovecot_store.vacation_set(box, Vacation("A", "B", until=datetime(2027, 1, 1)))


# --- the test server itself (tests/webmail/dovecot.py) ---------------------------------------
def test_test_dovecot_moves_to_new_ports_when_one_was_taken(smtp_server: SMTPCatcher) -> None:
    """Between choosing a free port and Dovecot's bind, another process may take it (a CI
    run failed so once): the harness starts Dovecot again on new ports."""
    server = DovecotServer(smtp_host=smtp_server.host, smtp_port=smtp_server.port)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", server.sieve_port))
        squatter.listen()
        taken = server.sieve_port
        server.start()
        try:
            assert server.sieve_port != taken
            address = "p2199998@etudiant.univ-perp.fr"
            with student_sieve(server, address) as client:
                assert client.listscripts() is not None
        finally:
            server.stop()


def test_test_dovecot_that_cannot_start_says_why(smtp_server: SMTPCatcher) -> None:
    server = DovecotServer(smtp_host=smtp_server.host, smtp_port=smtp_server.port)
    original = server.render

    def broken() -> str:
        return original() + "\nthis_setting_does_not_exist = 1\n"

    server.render = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="this_setting_does_not_exist"):
        server.start()
    assert not server.root.exists()
