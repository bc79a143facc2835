"""The Redis connection of a deployment with ``ENT_CACHE_URL`` (shared state of all instances).

One connection pool per process and URL: the pool holds sockets, never state another instance
needs. Keys are named ``<ENT_CACHE_KEY_PREFIX>:<what>:…`` so several deployments (or test runs)
can share one Redis.
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def redis_enabled() -> bool:
    """Whether this deployment keeps its shared state in Redis."""
    return bool(settings.CACHE_URL)


def redis_client() -> redis.Redis:
    """The client for ``ENT_CACHE_URL`` (short timeouts: an outage fails fast, as a 503)."""
    url = settings.CACHE_URL
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(
                url, socket_connect_timeout=2, socket_timeout=2, health_check_interval=30
            )
            _clients[url] = client
    return client


def redis_key(*parts: str) -> str:
    """A key of this deployment: ``<prefix>:<part>:<part>…``."""
    return ":".join((settings.CACHE_KEY_PREFIX, *parts))
