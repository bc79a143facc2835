"""The one clock of ENT.

Every expiry and throttling decision asks ``clock.now()`` instead of calling
``timezone.now()`` directly, so tests can move time forward (``clock.advance``) without
sleeping and without patching Django.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from django.utils import timezone

_offset = timedelta(0)
_lock = threading.Lock()


def now() -> datetime:
    """Current aware time, shifted by any offset a test has set."""
    return timezone.now() + _offset


def advance(delta: timedelta) -> None:
    """Move the clock forward (tests only)."""
    global _offset
    with _lock:
        _offset += delta


def reset() -> None:
    """Back to real time (tests only)."""
    global _offset
    with _lock:
        _offset = timedelta(0)
