"""argon2id with the parameters of the settings (OWASP minimum by default)."""

from __future__ import annotations

import threading

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher

_slots_lock = threading.Lock()
_slots: threading.BoundedSemaphore | None = None


def _hashing_slots() -> threading.BoundedSemaphore:
    """At most ``ENT_ARGON2_CONCURRENCY`` argon2 computations at once in this process."""
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(int(settings.ARGON2_CONCURRENCY))
        return _slots


class ENTArgon2PasswordHasher(Argon2PasswordHasher):
    """Django's argon2id hasher, parameters from ``ENT_ARGON2_*``.

    Django's own defaults (100 MiB, p = 8) cost about 200 ms and 100 MiB per login here; the
    OWASP minimum (19 MiB, t = 2, p = 1) is about 25 ms. Hashes made with other parameters are
    upgraded at the next successful login (``must_update``).

    Each worker process of ``ent serve`` has several threads; argon2 runs without the GIL, so
    pages are served while a password is checked. The hashes themselves wait for a slot
    (``ENT_ARGON2_CONCURRENCY`` per process, default 1, with one process per core): more at
    once would not check more passwords per second (the cores are the limit), but each would
    hold its memory block longer, and several blocks of 19 MiB per core thrash the CPU
    caches, which made logins slower per second than one at a time.
    """

    @property
    def time_cost(self) -> int:  # type: ignore[override]
        return int(settings.ARGON2_TIME_COST)

    @property
    def memory_cost(self) -> int:  # type: ignore[override]
        return int(settings.ARGON2_MEMORY_COST)

    @property
    def parallelism(self) -> int:  # type: ignore[override]
        return int(settings.ARGON2_PARALLELISM)

    def encode(self, password: str, salt: str) -> str:
        with _hashing_slots():
            return str(super().encode(password, salt))

    def verify(self, password: str, encoded: str) -> bool:
        with _hashing_slots():
            return bool(super().verify(password, encoded))
