"""A real OpenLDAP slapd (Debian's 2.5) for the tests, started from the README's own example.

``SlapdServer.start()`` renders ``docs/ldap/slapd.conf`` into a temporary directory (schemas
from ``docs/ldap/``, the MDB database, pid and args files in the directory, the ENT bind DN's
password as a fresh argon2id hash), runs ``slapd -d 0 -f <tmp>/slapd.conf -h
ldap://127.0.0.1:<port>`` in the foreground in its own process group, waits until an
anonymous search of the root DSE answers, then (first start only) adds the base entries
``dc=univ-perp,dc=fr`` and ``ou=people,dc=univ-perp,dc=fr`` with ``ldapadd`` bound as ENT.

``stop()`` stops the process and keeps the database; ``start()`` again serves the same data on
the same port (a later test stops the directory in the middle of an activation wave).
``close()`` stops it and removes the directory. Tests talk to it with the ldap-utils
command-line tools (``ldap()``), like a university's scripts would.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

import argon2

from tests.conftest import free_port, process_group_stop

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "ldap"
CONFIG_EXAMPLE = DOCS / "slapd.conf"
BASE_DN = "dc=univ-perp,dc=fr"
PEOPLE_DN = f"ou=people,{BASE_DN}"
BIND_DN = f"cn=ent,{BASE_DN}"
SLAPD = shutil.which("slapd") or next(
    (p for p in ("/usr/sbin/slapd", "/sbin/slapd") if os.access(p, os.X_OK)), None
)
MISSING = (
    "slapd is missing: echo 'slapd slapd/no_configuration boolean true' | "
    "debconf-set-selections; apt-get install slapd ldap-utils (or run scripts/test-deps)"
)
BASE_LDIF = f"""dn: {BASE_DN}
objectClass: top
objectClass: dcObject
objectClass: organization
dc: univ-perp
o: Universite de Perpignan Via Domitia

dn: {PEOPLE_DN}
objectClass: top
objectClass: organizationalUnit
ou: people
"""


def ldap_tool(name: str) -> str:
    """The path of an ldap-utils command (ldapadd, ldapsearch, ...)."""
    path = shutil.which(name) or f"/usr/bin/{name}"
    if not os.access(path, os.X_OK):
        raise RuntimeError(MISSING)
    return path


class SlapdServer:
    """One slapd under a temporary directory, on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ent-slapd-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.bind_dn = BIND_DN
        self.people_dn = PEOPLE_DN
        self.base_dn = BASE_DN
        self.bind_password = secrets.token_urlsafe(18)
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._seeded = False
        self.startup_seconds = 0.0

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    # --- configuration -------------------------------------------------------------------
    def render(self) -> str:
        """The README's example with the placeholders replaced; each must be found once."""
        # The OWASP minimum ENT uses by default: slapd checks the ENT bind in ~25 ms.
        hashed = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash(
            self.bind_password
        )
        text = CONFIG_EXAMPLE.read_text()
        rootpw = next(line for line in text.splitlines() if line.startswith("rootpw "))
        replacements = {
            "include /etc/ldap/schema/ent/": f"include {DOCS}/",
            "\npidfile /run/slapd/slapd.pid\n": f"\npidfile {self.root}/slapd.pid\n",
            "\nargsfile /run/slapd/slapd.args\n": f"\nargsfile {self.root}/slapd.args\n",
            "\ndirectory /var/lib/ldap\n": f"\ndirectory {self.data}\n",
            f"\n{rootpw}\n": f"\nrootpw {{ARGON2}}{hashed}\n",
        }
        for old, new in replacements.items():
            count = text.count(old)
            expected = 3 if old.startswith("include ") else 1
            assert count == expected, (
                f"{CONFIG_EXAMPLE}: expected {old!r} {expected} times, found it {count} times"
            )
            text = text.replace(old, new)
        assert "/etc/ldap/schema/ent/" not in text
        return text

    # --- process -------------------------------------------------------------------------
    def start(self) -> None:
        """Start slapd (same port and data after a ``stop()``); seed the base entries once.

        A free port can be taken by another process before slapd binds it: slapd then exits,
        and a first start retries on a new port (a restart keeps its port: clients know it).
        """
        if SLAPD is None:
            raise RuntimeError(MISSING)
        assert self.process is None, "slapd already runs"
        self.data.mkdir(exist_ok=True)
        (self.root / "slapd.conf").write_text(self.render())
        attempts = 1 if self._seeded else 3
        for attempt in range(attempts):
            if attempt:
                self.port = free_port()
            logs = self._run()
            if logs is None:
                break
        else:
            raise RuntimeError(f"slapd did not start on {self.url}:\n{logs}")
        if not self._seeded:
            self.ldap("ldapadd", input=BASE_LDIF)
            self._seeded = True

    def _run(self) -> str | None:
        """Run slapd and wait until it answers; None then, else what it wrote before exiting."""
        self._stderr = open(self.root / "stderr", "wb")  # noqa: SIM115 - closed by stop()
        began = time.monotonic()
        # -d 0: stay in the foreground (a child of the test process, killed with its group).
        self.process = subprocess.Popen(
            [SLAPD, "-d", "0", "-f", str(self.root / "slapd.conf"), "-h", self.url],
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            start_new_session=True,
        )
        deadline = began + 20
        search = [ldap_tool("ldapsearch"), "-x", "-H", self.url, "-s", "base", "-b", "", "-LLL"]
        search += ["-o", "nettimeout=2", "1.1"]
        while True:
            if self.process.poll() is not None:
                self._halt()
                return self.logs() or "(slapd wrote nothing)"
            done = subprocess.run(search, capture_output=True, timeout=10, check=False)
            if done.returncode == 0:
                self.startup_seconds = time.monotonic() - began
                return None
            if time.monotonic() > deadline:
                self._halt()
                return self.logs() + f"\nldapsearch: {done.stderr.decode(errors='replace')}"
            time.sleep(0.02)

    def logs(self) -> str:
        path = self.root / "stderr"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def stop(self) -> None:
        """Stop slapd (SIGTERM: it syncs the database and exits), keeping its directory."""
        self._halt()

    def _halt(self) -> None:
        if self.process is not None:
            process_group_stop(self.process, grace=10)
            self.process = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def close(self) -> None:
        """Stop slapd and remove its directory."""
        self._halt()
        shutil.rmtree(self.root, ignore_errors=True)

    # --- clients -------------------------------------------------------------------------
    def ldap(
        self,
        tool: str,
        *args: str,
        input: str | None = None,
        bind_dn: str | None = "",
        password: str | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run an ldap-utils ``tool`` against this server with a simple bind.

        ``bind_dn=""`` (the default) binds as ENT; ``bind_dn=None`` is an anonymous bind.
        With ``check``, a non-zero exit raises ``AssertionError`` with the tool's output.
        """
        command = [ldap_tool(tool), "-x", "-H", self.url, "-o", "nettimeout=5"]
        if bind_dn == "":
            bind_dn, password = self.bind_dn, self.bind_password
        if bind_dn is not None:
            command += ["-D", bind_dn, "-w", password or ""]
        command += list(args)
        done = subprocess.run(
            command, input=input, capture_output=True, text=True, timeout=30, check=False
        )
        if check:
            assert done.returncode == 0, (
                f"{tool} {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            )
        return done
