"""``ent serve``: the production web server (gunicorn), one instance of several.

Checks the settings first (a bad ENT_* value stops here with one line), prepares the
directory of the Prometheus counters shared by the workers, then replaces itself with
gunicorn (``exec``: systemd sees gunicorn's own process, signals reach it directly).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser


def _metrics_dir() -> str:
    """PROMETHEUS_MULTIPROC_DIR, emptied (stale files of an earlier run would add up)."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if not given:
        return tempfile.mkdtemp(prefix="ent-metrics-")
    path = Path(given)
    path.mkdir(parents=True, exist_ok=True)
    for item in path.glob("*.db"):
        item.unlink()
    return str(path)


class Command(BaseCommand):
    """Run gunicorn with ENT's configuration (ent/gunicorn_conf.py)."""

    help = "Serve ENT with gunicorn (ENT_BIND, ENT_WORKERS); put it behind a reverse proxy."
    requires_system_checks = []  # run explicitly below, before exec

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", help="address:port (default ENT_BIND or 127.0.0.1:8000)")
        parser.add_argument("--workers", type=int, help="worker processes (default ENT_WORKERS)")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.core import management

        management.call_command("check", deploy=False)
        env = dict(os.environ)
        if options.get("bind"):
            env["ENT_BIND"] = options["bind"]
        if options.get("workers"):
            env["ENT_WORKERS"] = str(options["workers"])
        for name, what, minimum in (
            ("ENT_WORKERS", "a number of processes", 1),
            ("ENT_THREADS", "a number of threads", 1),
            ("ENT_WORKER_MAX_REQUESTS", "a number of requests (0: never replaced)", 0),
        ):
            value = env.get(name, "").strip()
            if value and (not value.isdigit() or int(value) < minimum):
                raise CommandError(f"{name}: expected {what}, got {value!r}")
        env["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir()
        # Each argon2 hash allocates ENT_ARGON2_MEMORY_KIB at once, and glibc keeps that block
        # in the allocation arena of the thread that hashed (reusing it spares the 11 ms of
        # page faults that a fresh block costs each time, measured here). With one arena per
        # thread, each of a worker's threads kept a block of its own: 60 MiB more per worker.
        # One arena: the block is shared, and hashes take turns anyway (ENT_ARGON2_CONCURRENCY).
        env.setdefault("MALLOC_ARENA_MAX", "1")
        env.setdefault("DJANGO_SETTINGS_MODULE", "ent.settings")
        env["ENT_LOG_FORMAT"] = settings.LOG_FORMAT
        env["ENT_LOG_LEVEL"] = settings.LOG_LEVEL
        gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
        argv = [sys.executable, "-m", "gunicorn"] if gunicorn is None else [gunicorn]
        argv += ["-c", "python:ent.gunicorn_conf", "ent.wsgi:application"]
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(argv[0], argv, env)  # noqa: S606 (fixed argv: our interpreter, our config)
