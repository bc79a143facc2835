"""Messages shared by several pages."""

from __future__ import annotations

import math
from datetime import datetime

from django.utils import formats, timezone
from django.utils.translation import ngettext

from . import clock


def retry_message(retry_at: datetime) -> str:
    """Tell the person when they may try again (CNIL: the user is told the delay)."""
    minutes = max(1, math.ceil((retry_at - clock.now()).total_seconds() / 60))
    when = formats.time_format(timezone.localtime(retry_at), "H:i")
    return ngettext(
        "Trop d'essais infructueux. Vous pourrez réessayer dans %(n)d minute (à %(t)s).",
        "Trop d'essais infructueux. Vous pourrez réessayer dans %(n)d minutes (à %(t)s).",
        minutes,
    ) % {"n": minutes, "t": when}


def mask_email(address: str) -> str:
    """``blaise.pascal@gmail.com`` -> ``bl…l@gmail.com``: enough to recognise, not to harvest."""
    local, _at, domain = address.rpartition("@")
    shown = local[:1] + "…" if len(local) <= 2 else local[:2] + "…" + local[-1]
    return f"{shown}@{domain}"
