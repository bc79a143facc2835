"""Throttling of guessable secrets (CNIL délibération 2022-100, case 2).

For one key (a student number), after ``THROTTLE_FREE_FAILURES`` consecutive failures every
new failure imposes a delay that doubles from ``THROTTLE_BASE_DELAY`` seconds (at least one
minute), and no more than ``THROTTLE_MAX_FAILURES_PER_DAY`` failures are accepted in 24 hours.
A success ends the consecutive run but not the daily count. A second, looser policy counts the
failures of one client address across every account it tries.

Counters live in the database (``ThrottleCounter``), so every instance of the service sees the
same counts. Written here rather than with django-axes: axes has a fixed cool-off, not the
growing delay and daily cap the CNIL asks for, and django-ratelimit refuses the database cache.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from . import clock
from .models import ThrottleCounter


@dataclass(frozen=True)
class Policy:
    """How failures of one scope are limited."""

    scope: str
    window: timedelta
    max_failures_per_window: int
    free_failures: int | None = None
    base_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=1)


def account_policy() -> Policy:
    """Failures against one student number (INE at activation, password at login)."""
    return Policy(
        scope="account",
        window=timedelta(hours=24),
        max_failures_per_window=settings.THROTTLE_MAX_FAILURES_PER_DAY,
        free_failures=settings.THROTTLE_FREE_FAILURES,
        base_delay=timedelta(seconds=settings.THROTTLE_BASE_DELAY),
        max_delay=timedelta(seconds=settings.THROTTLE_MAX_DELAY),
    )


def address_policy() -> Policy:
    """Failures from one client address, whatever it tried."""
    return Policy(
        scope="ip",
        window=timedelta(hours=1),
        max_failures_per_window=settings.THROTTLE_IP_FAILURES_PER_HOUR,
    )


def code_policy() -> Policy:
    """Wrong mailed codes from one client address (codes are long, but still guessable)."""
    return Policy(scope="code-ip", window=timedelta(hours=1), max_failures_per_window=50)


def _hash(scope: str, key: str) -> str:
    return hashlib.sha256(f"{scope}\x00{key.strip().lower()}".encode()).hexdigest()


def retry_at(policy: Policy, key: str) -> datetime | None:
    """When ``key`` may try again, or None if it may try now."""
    row = (
        ThrottleCounter.objects.filter(scope=policy.scope, key_hash=_hash(policy.scope, key))
        .only("blocked_until")
        .first()
    )
    if row is None or row.blocked_until is None or row.blocked_until <= clock.now():
        return None
    return row.blocked_until


def failure(policy: Policy, key: str, weight: int = 1) -> datetime | None:
    """Count one failure for ``key``; returns when it may try again if it is now blocked.

    ``weight`` counts several at once (the recipients of one webmail message).
    """
    now = clock.now()
    with transaction.atomic():
        row, _created = ThrottleCounter.objects.select_for_update().get_or_create(
            scope=policy.scope,
            key_hash=_hash(policy.scope, key),
            defaults={"updated_at": now},
        )
        if row.window_started_at is None or now - row.window_started_at >= policy.window:
            row.window_started_at = now
            row.window_failures = 0
        row.window_failures += weight
        row.consecutive_failures += weight
        blocked: datetime | None = None
        if row.window_failures >= policy.max_failures_per_window:
            blocked = row.window_started_at + policy.window
        if policy.free_failures is not None and row.consecutive_failures >= policy.free_failures:
            extra = row.consecutive_failures - policy.free_failures
            delay = min(policy.base_delay * (2 ** min(extra, 30)), policy.max_delay)
            blocked = max(blocked or now, now + delay)
        row.blocked_until = blocked
        row.updated_at = now
        row.save()
    return blocked


def remaining(policy: Policy, key: str) -> int:
    """How many more may be counted for ``key`` in the current window before it is blocked."""
    row = (
        ThrottleCounter.objects.filter(scope=policy.scope, key_hash=_hash(policy.scope, key))
        .only("window_started_at", "window_failures")
        .first()
    )
    if row is None or row.window_started_at is None:
        return policy.max_failures_per_window
    if clock.now() - row.window_started_at >= policy.window:
        return policy.max_failures_per_window
    return max(0, policy.max_failures_per_window - row.window_failures)


def success(policy: Policy, key: str) -> None:
    """A success ends the run of consecutive failures (the daily count stays)."""
    ThrottleCounter.objects.filter(
        scope=policy.scope, key_hash=_hash(policy.scope, key), consecutive_failures__gt=0
    ).update(consecutive_failures=0, updated_at=clock.now())


def release(policy: Policy, key: str) -> None:
    """Lift the current delay and the consecutive run (the count of the window stays).

    For when the person proved who they are another way (a password reset through the mailed
    link): the old guesses say nothing about the new password, but the daily cap still holds.
    """
    ThrottleCounter.objects.filter(scope=policy.scope, key_hash=_hash(policy.scope, key)).update(
        consecutive_failures=0, blocked_until=None, updated_at=clock.now()
    )
