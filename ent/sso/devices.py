"""Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies").

A browser where a student signed in with their password receives a cookie signed with
``SECRET_KEY`` (``django.core.signing``) that names the account and a random device id, valid
``DEVICE_COOKIE_DAYS`` days and renewed with a new id at every sign-in. A sign-in presenting a
valid cookie of the account it tries is throttled on that device's counter alone
(``throttle.device_policy``); every other client of the account shares the counter of
"untrusted clients" (``throttle.password_policy``, the CNIL limits). A stranger who knows a
student number thus blocks only the untrusted clients, and the student still signs in from
their usual browser.

Nothing is stored when a cookie is issued (the sign-in stays as fast as before): the id is the
key of the device's throttle counter, and a cookie is revoked when that counter reaches its cap
(``Reading.exhausted``), or by its expiry. Its failures are in the audit log (``device`` in
the data of ``login.failed``), which is how the help desk finds a blocked device.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpResponse

from ent.accounts.models import Account
from ent.core import clock

_SALT = "ent.sso.devices"


def _max_age() -> int:
    return settings.DEVICE_COOKIE_DAYS * 24 * 3600


def device_issue(account: Account) -> str:
    """A fresh cookie value for ``account``, with a new device id and its issue time.

    The time is ENT's clock (``core.clock``), checked by ``device_id``, rather than the
    signer's own timestamp: the same clock as the throttle counters it goes with.
    """
    issued = int(clock.now().timestamp())
    return signing.dumps({"a": account.pk, "d": secrets.token_hex(16), "t": issued}, salt=_SALT)


def device_id(value: str | None, account: Account | None) -> str | None:
    """The device id of a cookie value if it is well signed, unexpired and of ``account``.

    Anything else (absent, forged, expired, another account's) is an untrusted client.
    """
    if not value or account is None:
        return None
    try:
        data: Any = signing.loads(value, salt=_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("a") != account.pk:
        return None
    issued, device = data.get("t"), data.get("d")
    if not isinstance(issued, int) or not isinstance(device, str) or not device:
        return None
    age = clock.now().timestamp() - issued
    return device if 0 <= age <= _max_age() else None


def device_cookie_set(response: HttpResponse, value: str) -> None:
    """Give the browser its device cookie: HttpOnly, SameSite=Lax, Secure under https."""
    response.set_cookie(
        settings.DEVICE_COOKIE_NAME,
        value,
        max_age=_max_age(),
        httponly=True,
        secure=settings.BASE_URL_SECURE,
        samesite="Lax",
    )
