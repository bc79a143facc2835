"""A real Dovecot 2.3 for the tests, started from the README's own configuration example.

``DovecotServer.start()`` renders ``docs/dovecot/ent-dovecot.conf`` with free ports on
127.0.0.1, a temporary directory for mail, state and logs, TLS off and the test process's uid,
then runs ``dovecot -F -c <tmp>/dovecot.conf`` in its own process group. ``stop()`` kills that
group, so no Dovecot process outlives the tests.

Mailboxes are lines of a passwd-file (``add_mailbox``); Dovecot re-reads the file when it
changes, so tests add students while the server runs. The master user is ``ent-webmail``.

With ``ldap=DirectoryAccess(...)``, the example's optional include of
``docs/dovecot/ent-dovecot-ldap.conf.ext`` is on: the students of that directory sign in with
their ENT password (``docs/dovecot/dovecot-ldap.conf.ext``, rendered with the directory's URL
and read-only account). Without it, the include is left out, as on a server without the file.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tests.conftest import free_ports, process_group_stop

REPO = Path(__file__).resolve().parents[2]
CONFIG_EXAMPLE = REPO / "docs" / "dovecot" / "ent-dovecot.conf"
LDAP_INCLUDE_EXAMPLE = REPO / "docs" / "dovecot" / "ent-dovecot-ldap.conf.ext"
LDAP_SETTINGS_EXAMPLE = REPO / "docs" / "dovecot" / "dovecot-ldap.conf.ext"
LDAP_INCLUDE_LINE = "!include_try /etc/dovecot/ent-dovecot-ldap.conf.ext\n"
MASTER_USER = "ent-webmail"
DOVECOT = shutil.which("dovecot") or next(
    (p for p in ("/usr/sbin/dovecot", "/sbin/dovecot") if os.access(p, os.X_OK)), None
)


def _wait_greeting(port: int, deadline: float, process: subprocess.Popen[bytes]) -> None:
    """Wait until Dovecot greets on ``port`` (IMAP "* OK … Dovecot ready.", ManageSieve's
    "IMPLEMENTATION" "Dovecot Pigeonhole", LMTP "220 … Dovecot ready."): a connection alone
    could reach another process that took the port, or a master that is about to exit."""
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
                greeting = b""
                while b"\n" not in greeting:
                    chunk = conn.recv(1024)
                    if not chunk:
                        break
                    greeting += chunk
                if b"Dovecot" in greeting:
                    return
                raise OSError(f"port {port} greets with {greeting[:80]!r}")
        except OSError:
            if process.poll() is not None:
                raise OSError("Dovecot exited") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies waiting for init do not count)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # After the command: state, ppid, pgrp.
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


@dataclass(frozen=True)
class DirectoryAccess:
    """Where Dovecot finds the students (the LDAP example's placeholders)."""

    url: str
    bind_dn: str
    bind_password: str
    people_dn: str


def _replace_once(text: str, replacements: dict[str, str], source: Path) -> str:
    for old, new in replacements.items():
        count = text.count(old)
        assert count == 1, f"{source}: expected {old!r} once, found it {count} times"
        text = text.replace(old, new)
    return text


class DovecotServer:
    """One Dovecot instance under a temporary directory."""

    def __init__(
        self,
        *,
        smtp_host: str,
        smtp_port: int,
        autocreate: bool = True,
        ldap: DirectoryAccess | None = None,
    ) -> None:
        self.ldap = ldap
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port
        self.autocreate = autocreate
        self.root = Path(tempfile.mkdtemp(prefix="ent-dovecot-"))
        self.imap_port, self.sieve_port, self.lmtp_port = free_ports(3)
        self.master_password = secrets.token_urlsafe(24)
        self.master_password_file = self.root / "master-password"
        self.students_file = self.root / "students"
        self.masters_file = self.root / "master-users"
        self.log = self.root / "dovecot.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self.startup_seconds = 0.0
        self._mailboxes: dict[str, str] = {}

    # --- configuration -------------------------------------------------------------------
    def render(self) -> str:
        """The README's example with the "[test]" values replaced; each must be found once."""
        uid, gid = self.mail_ids()
        mail = self.root / "mail"
        replacements = {
            "ssl = required\nssl_cert = </etc/dovecot/private/dovecot.pem\n"
            "ssl_key = </etc/dovecot/private/dovecot.key\n": "ssl = no\n",
            "mail_location = maildir:/var/vmail/%d/%n/Maildir": (
                f"mail_location = maildir:{mail}/%d/%n/Maildir"
            ),
            "mail_uid = vmail": f"mail_uid = {uid}",
            "mail_gid = vmail": f"mail_gid = {gid}",
            "first_valid_uid = 100": f"first_valid_uid = {min(uid, 100)}",
            "args = /etc/dovecot/ent-master-users": f"args = {self.masters_file}",
            "args = username_format=%u /etc/dovecot/ent-students": (
                f"args = username_format=%u {self.students_file}"
            ),
            "args = uid=vmail gid=vmail home=/var/vmail/%d/%n": (
                f"args = uid={uid} gid={gid} home={mail}/%d/%n"
            ),
            "    port = 143\n": f"    address = 127.0.0.1\n    port = {self.imap_port}\n",
            "    port = 993\n    ssl = yes\n": "    port = 0\n",
            "    port = 4190\n": f"    address = 127.0.0.1\n    port = {self.sieve_port}\n",
            "    port = 24\n": f"    port = {self.lmtp_port}\n",
            "submission_host = smtp.univ-perp.fr:25": (
                f"submission_host = {self.smtp_host}:{self.smtp_port}"
            ),
        }
        if not self.autocreate:
            replacements["    auto = subscribe\n"] = "    auto = no\n"
        if self.ldap is None:
            replacements[LDAP_INCLUDE_LINE] = "# [test] no directory (LDAP)\n"
        else:
            include = self.render_ldap()
            replacements[LDAP_INCLUDE_LINE] = f"!include {include}\n"
        text = CONFIG_EXAMPLE.read_text()
        for old, new in replacements.items():
            count = text.count(old)
            if old == "    auto = subscribe\n":
                assert count == 4, "the example's special-use folders changed"
            else:
                assert count == 1, (
                    f"{CONFIG_EXAMPLE}: expected {old!r} once, found it {count} times"
                )
            text = text.replace(old, new)
        me = os.getuid()
        user = pwd.getpwuid(me).pw_name
        # Root runs the auth and login processes as Debian's "dovecot"/"dovenull"; another user
        # runs everything as itself (Dovecot allows that when it is not started as root).
        internal = "dovecot" if me == 0 else user
        login = "dovenull" if me == 0 else user
        text += (
            "\n# [test] appended by tests/webmail/dovecot.py\n"
            f"base_dir = {self.root}/run\n"
            f"state_dir = {self.root}/state\n"
            f"log_path = {self.log}\n"
            f"default_internal_user = {internal}\n"
            f"default_login_user = {login}\n"
            f"default_internal_group = {'dovecot' if me == 0 else grp.getgrgid(os.getgid()).gr_name}\n"
            "instance_name = ent-test\n"
            "shutdown_clients = yes\n"
        )
        return text

    def render_ldap(self) -> Path:
        """Write the LDAP examples with the "[test]" values; returns the file to include."""
        assert self.ldap is not None
        mail = self.root / "mail"
        settings_file = self.root / "dovecot-ldap.conf.ext"
        settings_text = _replace_once(
            LDAP_SETTINGS_EXAMPLE.read_text(),
            {
                "\nuris = ldap://ldap.univ-perp.fr\n": f"\nuris = {self.ldap.url}\n",
                "\ndn = cn=dovecot,dc=univ-perp,dc=fr\n": f"\ndn = {self.ldap.bind_dn}\n",
                "\ndnpass = REPLACE-WITH-THE-DOVECOT-PASSWORD\n": (
                    f"\ndnpass = {self.ldap.bind_password}\n"
                ),
                "\nbase = ou=people,dc=univ-perp,dc=fr\n": f"\nbase = {self.ldap.people_dn}\n",
                "=home=/var/vmail/%d/%n\n": f"=home={mail}/%d/%n\n",
            },
            LDAP_SETTINGS_EXAMPLE,
        )
        settings_file.write_text(settings_text)
        # Read by Dovecot's auth process ("dovecot" when the tests run as root).
        os.chmod(settings_file, 0o644)
        include = self.root / "ent-dovecot-ldap.conf.ext"
        args = "  args = /etc/dovecot/dovecot-ldap.conf.ext\n"
        text = LDAP_INCLUDE_EXAMPLE.read_text()
        count = text.count(args)
        assert count == 2, f"{LDAP_INCLUDE_EXAMPLE}: expected {args!r} twice, found {count}"
        include.write_text(text.replace(args, f"  args = {settings_file}\n"))
        return include

    @staticmethod
    def mail_ids() -> tuple[int, int]:
        """The uid/gid owning the mail: Dovecot refuses uid 0, so root uses Debian's "mail"."""
        if os.getuid() != 0:
            return os.getuid(), os.getgid()
        entry = pwd.getpwnam("mail")
        return entry.pw_uid, entry.pw_gid

    # --- mailboxes -----------------------------------------------------------------------
    def add_mailbox(self, address: str) -> str:
        """Give Dovecot a student mailbox (a passdb line); returns the student's own password,
        for tests that play the student's other mail client (e.g. a ManageSieve client)."""
        if address not in self._mailboxes:
            self._mailboxes[address] = secrets.token_urlsafe(18)
            self._write_students()
        return self._mailboxes[address]

    def _write_students(self) -> None:
        lines = "".join(f"{a}:{{PLAIN}}{p}::::::\n" for a, p in sorted(self._mailboxes.items()))
        tmp = self.students_file.with_suffix(".tmp")
        tmp.write_text(lines)
        os.chmod(tmp, 0o644)
        tmp.replace(self.students_file)

    def maildir(self, address: str, folder: str = "INBOX") -> Path:
        """The Maildir++ directory of a folder (``mail_location`` of the example)."""
        local, _, domain = address.rpartition("@")
        root = self.root / "mail" / domain / local / "Maildir"
        if folder.upper() == "INBOX":
            return root
        assert folder.isascii() and "." not in folder, "only plain ASCII folder names here"
        return root / ("." + folder.replace("/", "."))

    def fill(self, address: str, folder: str, raws: Iterable[bytes]) -> None:
        """Drop messages into a Maildir as another delivery agent would, oldest first, one
        second apart (Dovecot takes a file's mtime as its arrival time), then ``doveadm index``
        them: Dovecot caches the fields of ``mail_always_cache_fields`` as it does when LMTP
        saves a message, without which the first search would parse 10,000 files."""
        uid, gid = self.mail_ids()
        path = self.maildir(address, folder)
        for sub in ("cur", "new", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        for directory in [path, *(path / sub for sub in ("cur", "new", "tmp"))]:
            os.chown(directory, uid, gid)
        start = int(time.time()) - 10**6
        for i, raw in enumerate(raws):
            when = start + i
            name = f"{when}.M{i}P{os.getpid()}.ent-test"
            target = path / "new" / name
            target.write_bytes(raw)
            os.chown(target, uid, gid)
            os.utime(target, (when, when))
        doveadm = shutil.which("doveadm") or "/usr/bin/doveadm"
        index = [doveadm, "-c", str(self.root / "dovecot.conf"), "index", "-u", address, folder]
        subprocess.run(index, check=True, capture_output=True, timeout=120)

    # --- process -------------------------------------------------------------------------
    def start(self) -> None:
        """Write the configuration and run Dovecot in the foreground, in its own group.

        The ports were free when chosen, but another process can bind one before Dovecot does
        (a client's ephemeral port, another test server): Dovecot then exits with "Address
        already in use", and it is started again on new ports, up to three times.
        """
        if DOVECOT is None:
            raise RuntimeError(
                "Dovecot 2.3 is missing: apt-get install dovecot-imapd dovecot-managesieved "
                "dovecot-sieve dovecot-lmtpd (or run scripts/test-deps)"
            )
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir()
        os.chown(self.root / "mail", *self.mail_ids())
        # Traversable, not listable: Dovecot's login and auth users reach their sockets in it.
        os.chmod(self.root, 0o711)  # noqa: S103
        self.masters_file.write_text(
            f"{MASTER_USER}:{{PLAIN}}{self.master_password}::::::allow_nets=127.0.0.1/32\n"
        )
        os.chmod(self.masters_file, 0o644)
        self.master_password_file.write_text(self.master_password + "\n")
        self._write_students()
        for attempt in range(3):
            if attempt:
                self.imap_port, self.sieve_port, self.lmtp_port = free_ports(3)
            logs = self._run()
            if logs is None:
                return
            if "Address already in use" not in logs:
                break
        shutil.rmtree(self.root, ignore_errors=True)
        raise RuntimeError(f"Dovecot did not start (attempt {attempt + 1}):\n{logs}")

    def _run(self) -> str | None:
        """Start Dovecot on the current ports and wait until it listens on all three; returns
        None then, or what Dovecot wrote when it exited or stayed silent for 20 s (the
        directory is kept for the next attempt)."""
        config = self.root / "dovecot.conf"
        config.write_text(self.render())
        self.log.unlink(missing_ok=True)
        self._stderr = open(self.root / "stderr", "wb")  # noqa: SIM115 - closed by _halt()
        began = time.monotonic()
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            start_new_session=True,
        )
        deadline = began + 20
        try:
            for port in (self.imap_port, self.sieve_port, self.lmtp_port):
                _wait_greeting(port, deadline, self.process)
        except OSError:
            self._halt()
            # Read once the group is gone: everything Dovecot wrote is on disk.
            return self.logs() or "(Dovecot wrote nothing)"
        self.startup_seconds = time.monotonic() - began
        return None

    def logs(self) -> str:
        """What Dovecot wrote (its log file and standard error), for failure messages."""
        out = []
        for name in ("stderr", "dovecot.log"):
            path = self.root / name
            if path.exists():
                out.append(path.read_text(errors="replace")[-5000:])
        return "\n".join(out)

    def stop(self) -> None:
        """Stop Dovecot's whole process group, then remove the directory.

        SIGTERM first (the master stops its children, usually within 20 ms); a master stopped
        while its processes are still starting can take 6 s to obey, so after 0.3 s the whole
        group is killed (everything it wrote is thrown away anyway).
        """
        self._halt()
        shutil.rmtree(self.root, ignore_errors=True)

    def _halt(self) -> None:
        """Stop Dovecot's process group (see ``stop``), keeping its directory."""
        if self.process is not None:
            pgid = self.process.pid
            process_group_stop(self.process, grace=0.3)
            # Children that outlive the master (they are in the same group) go too, and the
            # next test starts once they are gone.
            deadline = time.monotonic() + 5
            while _group_alive(pgid) and time.monotonic() < deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                time.sleep(0.02)
            self.process = None
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None
