"""Running ENT as production runs it: ``ent serve`` processes, PostgreSQL, Redis.

Helpers of the multi-instance and PostgreSQL-restart tests: a database of their own on the
machine's PostgreSQL (or a private PostgreSQL cluster), the environment of a production
instance (no demo mode), ``ent`` commands, and ``ent serve`` on a free port.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests

from tests.conftest import TEST_REDIS_URL, free_port, redis_prefix_clear

ENT = shutil.which("ent", path=str(Path(sys.executable).parent)) or "ent"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def machine_postgres_url() -> str:
    """The machine's PostgreSQL: the suite's own server URL when it runs on PostgreSQL."""
    url = os.environ.get("ENT_DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return url
    return "postgres://postgres@127.0.0.1:5432/postgres"


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name``."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A fresh database ``ent_multi_<random>`` on the server; dropped afterwards."""
    name = f"ent_multi_{uuid.uuid4().hex[:10]}"
    admin = with_database(server_url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _oidc_key(directory: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = directory / "oidc.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@dataclass
class Deployment:
    """The environment shared by every instance of one deployment (one database, one Redis)."""

    env: dict[str, str]
    redis_prefix: str

    def run(self, *args: str, timeout: float = 120) -> str:
        """Run ``ent <args>``; its stdout."""
        done = subprocess.run(
            [ENT, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"ent {args[0]} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def python(self, code: str) -> Any:
        """Run Python inside ``ent shell`` (Django set up); it prints one JSON value."""
        out = self.run("shell", "-c", code)
        return json.loads(out.strip().splitlines()[-1])


@contextmanager
def deployment(database_url: str, *, redis: bool = True) -> Iterator[Deployment]:
    """Production settings (no demo) for ``database_url``, Redis under a prefix of its own."""
    workdir = Path(tempfile.mkdtemp(prefix="ent-deploy-"))
    prefix = f"ent-test-{uuid.uuid4().hex[:12]}"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ENT_", "DJANGO_", "PROMETHEUS_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="ent.settings",
        ENT_SECRET_KEY="multi-instance-secret-key-0123456789-abcdefghij",
        ENT_DATABASE_URL=database_url,
        ENT_VAR_DIR=str(workdir / "var"),
        ENT_SMTP_URL=f"smtp://127.0.0.1:{free_port()}",  # nobody listens: mail is not tested here
        ENT_OIDC_PRIVATE_KEY=str(_oidc_key(workdir)),
        ENT_BASE_URL="http://127.0.0.1:8000",
        ENT_LOG_FORMAT="json",
        ENT_LOG_LEVEL="INFO",
    )
    if redis:
        env.update(ENT_CACHE_URL=TEST_REDIS_URL, ENT_CACHE_KEY_PREFIX=prefix)
    try:
        yield Deployment(env=env, redis_prefix=prefix)
    finally:
        redis_prefix_clear(prefix)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class Instance:
    """One ``ent serve`` process."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def logs(self) -> str:
        """What the instance wrote (JSON lines)."""
        return self.log.read_text(errors="replace")


@contextmanager
def ent_serve(deploy: Deployment, *, workers: int = 2) -> Iterator[Instance]:
    """``ent serve`` on a free port; stopped (SIGTERM) afterwards."""
    port = free_port()
    log = Path(deploy.env["ENT_VAR_DIR"]).parent / f"serve-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [ENT, "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)],
            env=deploy.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    instance = Instance(url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"ent serve exited:\n{instance.logs()}"
            try:
                if requests.get(f"{instance.url}/healthz", timeout=10).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert time.monotonic() < deadline, f"ent serve did not start:\n{instance.logs()}"
            time.sleep(0.2)
        yield instance
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = _CSRF.search(html)
    assert found, "no form on the page"
    return found.group(1)


# --- A private PostgreSQL cluster (to restart it) ----------------------------------------------


def _as_postgres(argv: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: the test (root on CI) runs it as the postgres user.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster in a temporary directory, on a free port, that a test may restart."""

    directory: Path
    port: int

    @property
    def url(self) -> str:
        """Server URL (database ``postgres``)."""
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args: str, timeout: float = 60) -> None:
        """``pg_ctl <args>`` on this cluster."""
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        argv = [str(PG_BIN / "pg_ctl"), "-D", str(self.directory / "data"), "-o", options]
        argv += ["-l", str(self.directory / "server.log"), *args]
        subprocess.run(_as_postgres(argv), check=True, capture_output=True, timeout=timeout)

    def stop(self) -> None:
        """Fast shutdown: connections in flight are cut, as in a real restart."""
        self.ctl("stop", "-m", "fast", "-w")

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        self.ctl("start", "-w", "-t", "30")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """initdb + pg_ctl start in a temporary directory owned by postgres; removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="ent-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, user="postgres", group="postgres")
    cluster = PrivatePostgres(directory=directory, port=free_port())
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(directory / "data"),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    cluster.start()
    try:
        yield cluster
    finally:
        with suppress(subprocess.CalledProcessError):
            cluster.ctl("stop", "-m", "immediate", "-w")
        shutil.rmtree(directory, ignore_errors=True)
