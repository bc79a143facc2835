"""The directory during the activation wave (``bench/run.py``, figure 5): a real slapd started
from ``docs/ldap/slapd.conf`` (``tests/directory/slapd.py``), ENT's server and ``ent worker``
pointed at it, and a watcher that measures the directory's delay behind ENT.

The delay of one activation is the time from its COMMIT to its entry being readable with the
password: ``Account.activated_at`` is written in the transaction that activates (a little
before its COMMIT, so the figure errs on the long side), and the watcher polls the branch every
``POLL`` seconds for entries holding a ``userPassword`` (present only while the account is
active) and notes when each first appears (so the figure is at most ``POLL`` late too).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import ldap

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.directory.slapd import SlapdServer  # noqa: E402 (after the path)

POLL = 0.1


def directory_start(log_dir: Path) -> tuple[SlapdServer, dict[str, str]]:
    """A running slapd and the ``ENT_LDAP_*`` variables that point ENT at it."""
    server = SlapdServer()
    server.start()
    password_file = log_dir / "ldap-bind-password"
    password_file.write_text(server.bind_password)
    password_file.chmod(0o600)
    env = {
        "ENT_LDAP_URL": server.url,
        "ENT_LDAP_BIND_DN": server.bind_dn,
        "ENT_LDAP_BIND_PASSWORD_FILE": str(password_file),
        "ENT_LDAP_PEOPLE_DN": server.people_dn,
    }
    return server, env


class Watcher(threading.Thread):
    """Notes when each entry of the branch first holds a password (uid → time.time())."""

    def __init__(self, server: SlapdServer) -> None:
        super().__init__(name="directory-watcher", daemon=True)
        self.server = server
        self.seen: dict[str, float] = {}
        self.stopping = threading.Event()
        self.polls = 0

    def run(self) -> None:
        conn = ldap.initialize(self.server.url)
        conn.simple_bind_s(self.server.bind_dn, self.server.bind_password)
        try:
            while not self.stopping.is_set():
                # Only the entries changed in the last few seconds (modifyTimestamp has a
                # one-second resolution): the watcher must not load the machine it measures.
                since = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(time.time() - 3))
                found = conn.search_s(
                    self.server.people_dn,
                    ldap.SCOPE_ONELEVEL,
                    f"(&(userPassword=*)(modifyTimestamp>={since}))",
                    ["uid"],
                )
                now = time.time()
                self.polls += 1
                for _dn, attrs in found:
                    uid = attrs["uid"][0].decode()
                    self.seen.setdefault(uid, now)
                self.stopping.wait(POLL)
        finally:
            conn.unbind_s()

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)


def delays(watcher: Watcher, database_url: str, since: float) -> tuple[list[float], int]:
    """The delay (seconds) of each activation made after ``since`` (the wave's; the accounts
    the bench prepared before are not its), and how many of them never appeared."""
    from datetime import UTC, datetime

    import psycopg

    with psycopg.connect(database_url) as db:
        rows = db.execute(
            "SELECT s.student_number, a.activated_at FROM accounts_account a"
            " JOIN directory_student s ON s.id = a.student_id"
            " WHERE a.state = 'active' AND a.activated_at >= %s",
            (datetime.fromtimestamp(since, UTC),),
        ).fetchall()
    out: list[float] = []
    missing = 0
    for number, activated_at in rows:
        seen = watcher.seen.get(number)
        if seen is None:
            missing += 1
            continue
        out.append(max(seen - activated_at.timestamp(), 0.0))
    return out, missing


def wait_in_step(watcher: Watcher, expected: int, timeout: float = 30.0) -> None:
    """Give the writer time to write the last activations before counting."""
    deadline = time.monotonic() + timeout
    while len(watcher.seen) < expected and time.monotonic() < deadline:
        time.sleep(0.2)


def summary(values: list[float], missing: int, percentile: Any) -> dict[str, float]:
    """p50, p99 and max of the delays, in seconds."""
    if not values:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0, "count": 0, "missing": missing}
    return {
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values),
        "count": len(values),
        "missing": missing,
    }
