"""Single-use codes mailed to people (activation links, password resets…).

A code is 20 characters from A–Z and 0–9 (as in the university's activation mail, about 103
bits of randomness), drawn with ``secrets``. Only its SHA-256 is stored: with that much
randomness a fast hash is enough (a slow password hash would add nothing), and a leaked table
gives no usable link. A code is valid once, until it expires, and only while no newer code of
the same purpose was issued for the same account.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from datetime import timedelta
from enum import Enum
from typing import TYPE_CHECKING, TypeVar

from django.db import transaction

from . import clock, throttle
from .audit import audit_record
from .models import AuditEvent, OneTimeCode

if TYPE_CHECKING:
    from ent.accounts.models import Account

CODE_ALPHABET = string.ascii_uppercase + string.digits
CODE_LENGTH = 20


class CodeStatus(Enum):
    """What a presented code turned out to be."""

    VALID = "valid"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    REVOKED = "revoked"
    THROTTLED = "throttled"  # the client address guessed too many unknown codes (code_check)


JourneyStatus = TypeVar("JourneyStatus", bound=Enum)


def code_refusal(status: CodeStatus, statuses: type[JourneyStatus]) -> JourneyStatus:
    """A refused code as the status of one journey (activation, reset, address change…).

    Every journey's status enum has the members ``unknown``, ``expired``, ``used``, ``revoked``
    and ``throttled`` with the values of ``CodeStatus``; anything else reads as unknown.
    """
    try:
        return statuses(status.value)
    except ValueError:
        return statuses("unknown")


def code_hash(code: str) -> str:
    """The stored form of a code."""
    return hashlib.sha256(code.encode("ascii", "ignore")).hexdigest()


def normalise(raw: str) -> str | None:
    """Upper-case the code and drop spaces; None when it cannot be a code at all."""
    code = "".join(raw.split()).upper()
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


def code_issue(
    *, purpose: OneTimeCode.Purpose, account: Account, email: str, lifetime: timedelta
) -> tuple[OneTimeCode, str]:
    """Create a code, revoking the open ones of the same purpose; returns (row, plaintext)."""
    now = clock.now()
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    with transaction.atomic():
        OneTimeCode.objects.filter(
            account=account, purpose=purpose, used_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
        row = OneTimeCode.objects.create(
            purpose=purpose,
            account=account,
            email=email,
            code_hash=code_hash(code),
            created_at=now,
            expires_at=now + lifetime,
        )
    return row, code


def code_lookup(purpose: OneTimeCode.Purpose, raw: str) -> tuple[CodeStatus, OneTimeCode | None]:
    """Find the code and say whether it can still be used."""
    code = normalise(raw)
    if code is None:
        return CodeStatus.UNKNOWN, None
    row = (
        OneTimeCode.objects.select_related("account")
        .filter(purpose=purpose, code_hash=code_hash(code))
        .first()
    )
    if row is None:
        return CodeStatus.UNKNOWN, None
    if row.used_at is not None:
        return CodeStatus.USED, row
    if row.revoked_at is not None:
        return CodeStatus.REVOKED, row
    if row.expires_at <= clock.now():
        return CodeStatus.EXPIRED, row
    return CodeStatus.VALID, row


def code_check(
    *,
    purpose: OneTimeCode.Purpose,
    code: str,
    ip: str | None,
    rejected_kind: AuditEvent.Kind | None = None,
) -> tuple[CodeStatus, OneTimeCode | None]:
    """``code_lookup`` for a code a client presents, with throttling of guesses per address.

    An address that presented too many unknown codes gets THROTTLED without any lookup; an
    unknown code counts as a failure of the address (used or expired ones do not: they were
    real links, followed late). With ``rejected_kind``, a real code refused (used, expired,
    revoked) is audited under that kind, with the status as its reason.
    """
    if ip and throttle.blocked("code", ip) is not None:
        return CodeStatus.THROTTLED, None
    status, row = code_lookup(purpose, code)
    if status is CodeStatus.UNKNOWN and ip:
        throttle.failed("code", ip)
    if rejected_kind and row is not None and status is not CodeStatus.VALID:
        audit_record(kind=rejected_kind, student=row.account.student, ip=ip, reason=status.value)
    return status, row


def code_consume(row: OneTimeCode) -> bool:
    """Mark the code used; True for exactly one caller even when two race for it.

    A conditional UPDATE rather than read-then-write: the database lets only one statement
    flip ``used_at`` from NULL, on SQLite and PostgreSQL alike.
    """
    now = clock.now()
    won = OneTimeCode.objects.filter(
        pk=row.pk, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if won:
        row.used_at = now
    return bool(won)


def codes_issued_last_hour(*, account: Account, purpose: OneTimeCode.Purpose) -> int:
    """How many codes of this purpose were issued for the account in the last hour."""
    return OneTimeCode.objects.filter(
        account=account, purpose=purpose, created_at__gte=clock.now() - timedelta(hours=1)
    ).count()
