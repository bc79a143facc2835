"""argon2id with the parameters of the settings (OWASP minimum by default)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


class ENTArgon2PasswordHasher(Argon2PasswordHasher):
    """Django's argon2id hasher, parameters from ``ENT_ARGON2_*``.

    Django's own defaults (100 MiB, p = 8) cost about 200 ms and 100 MiB per login here; the
    OWASP minimum (19 MiB, t = 2, p = 1) is about 25 ms. Hashes made with other parameters are
    upgraded at the next successful login (``must_update``).
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
