"""gunicorn configuration of ``ent serve`` (``-c python:ent.gunicorn_conf``).

Everything comes from the environment that ``ent serve`` prepared (ENT_BIND, ENT_WORKERS…),
so the values a university sets are the ENT_* variables of the README, nothing else.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from ent.core.logging import logging_config

bind = [os.environ.get("ENT_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("ENT_WORKERS") or os.cpu_count() or 1)
# Threads in each worker: argon2 releases the GIL while it hashes, and a thread waiting on
# PostgreSQL (a COMMIT's disk flush) or on a service's back-channel call holds no core. With
# one request per process, as with gunicorn's sync workers, a page view waited behind every
# password being hashed ahead of it, and a core sat idle during each flush.
# 8 rather than 4: a sign-in holds its thread while it waits for the worker's hashing slot
# (ENT_ARGON2_CONCURRENCY), and with 4 threads the pages of the activation wave (make bench)
# queued behind those waits for a thread: p99 120 and 184 ms against 107 and 78 ms with 8,
# in runs taken in turns on the same machine. Each thread keeps its own database connection.
worker_class = "gthread"
threads = int(os.environ.get("ENT_THREADS") or 8)
# A request is killed after this long (argon2 at a few tens of ms, a CAS back-channel call at
# ENT_CAS_HTTP_TIMEOUT_SECONDS: 30 s is far beyond any healthy request).
timeout = int(os.environ.get("ENT_WORKER_TIMEOUT_SECONDS", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (a slow leak in a dependency never grows for weeks);
# ENT_WORKER_MAX_REQUESTS=0 never recycles (``make bench`` measures one worker's memory).
max_requests = int(os.environ.get("ENT_WORKER_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10

# X-Forwarded-Proto (https) is believed only from ENT_TRUSTED_PROXIES, as X-Forwarded-For is
# in ent.core.net: gunicorn then sets wsgi.url_scheme, and Django's request.is_secure().
forwarded_allow_ips = ",".join(
    str(ipaddress.ip_network(item.strip(), strict=False))
    for item in os.environ.get("ENT_TRUSTED_PROXIES", "").split(",")
    if item.strip()
)
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# One access line per request is written by ENT itself (ent.access: request id, duration,
# codes redacted); gunicorn's own messages go through the same handler, in the same format.
accesslog = None
errorlog = "-"
logconfig_dict = logging_config(
    os.environ.get("ENT_LOG_FORMAT", "json").lower(),
    os.environ.get("ENT_LOG_LEVEL", "INFO").upper(),
)
proc_name = "ent"
# systemd manages the processes; several instances on one host would share one default
# control socket path ($HOME/.gunicorn/gunicorn.ctl).
control_socket_disable = True


def child_exit(server: Any, worker: Any) -> None:
    """Forget the metrics files of a worker that ended (prometheus_client multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
