"""Single-use codes mailed to people (activation links, password resets…).

A code is 20 characters from A–Z and 0–9 (as in the university's activation mail, about 103
bits of randomness), drawn with ``secrets``. Only its SHA-256 is stored: with that much
randomness a fast hash is enough (a slow password hash would add nothing), and a leaked table
gives no usable link. A code is valid once, until it expires, and only while no newer code of
the same purpose was issued for the same account.

``LINK_PURPOSES`` is the table of mailed links (as Zulip's ``confirmation`` app keeps one
properties entry per link type): for each ``OneTimeCode.Purpose`` the page the link opens, the
settings of its lifetime and hourly cap, its mails, and the journey function a valid code
leads to. Links are built from ``settings.BASE_URL`` (``link_url``), never from a request's
Host header. ``CodeStatus`` is the one outcome enum of every link journey, and
``code_landing`` the one landing of every link page.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from . import clock, throttle
from . import session_keys as keys
from .audit import audit_record
from .mail import mail_send
from .models import AuditEvent, OneTimeCode

if TYPE_CHECKING:
    from ent.accounts.models import Account

CODE_ALPHABET = string.ascii_uppercase + string.digits
CODE_LENGTH = 20


class CodeStatus(Enum):
    """What a presented code turned out to be, and what following a mailed link gave.

    The one outcome of every link journey (activation, reset, address change, forwarding,
    staff invitation); the result pages compare its ``value``.
    """

    VALID = "valid"  # the code can be used (a lookup, before the journey acts)
    DONE = "done"  # the journey acted: account activated, password reset, address changed…
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    REVOKED = "revoked"
    THROTTLED = "throttled"  # the client address guessed too many unknown codes (code_check)
    INACTIVE = "inactive"  # the account was locked or disabled since the link was sent
    ALREADY_ACTIVE = "already_active"  # activation: the account is active already
    REFUSED = "refused"  # forwarding: the address became unusable meanwhile (a loop appeared)


@dataclass(frozen=True)
class LinkPurpose:
    """How the mailed links of one purpose behave; every figure is a setting named here."""

    url_name: str  # the page the link opens: reverse(url_name) on settings.BASE_URL
    session_key: str  # where that page keeps the code once it left the address bar
    lifetime_setting: str  # how long a link lasts, in ``lifetime_unit``
    lifetime_unit: str  # "hours" or "minutes" (a ``timedelta`` keyword)
    cap_setting: str | None  # links per account per hour; None: not capped
    templates: tuple[str, ...]  # the mails: the link's own first, then the notices a success sends
    on_success: str  # the journey function a valid code leads to
    cap_extra: int = 0  # links beyond the cap setting (activation: the first link is no resend)


# The table of mailed links, one entry per ``OneTimeCode.Purpose`` (tests check it is complete).
# Data only: ``core`` imports nothing from the apps above it.
LINK_PURPOSES: dict[OneTimeCode.Purpose, LinkPurpose] = {
    OneTimeCode.Purpose.ACTIVATION: LinkPurpose(
        url_name="accounts:activation-confirm",
        session_key=keys.ACTIVATION_LINK_CODE,
        lifetime_setting="ACTIVATION_CODE_HOURS",
        lifetime_unit="hours",
        cap_setting="ACTIVATION_RESEND_PER_HOUR",
        cap_extra=1,
        templates=("activation",),
        on_success="ent.accounts.activation.activation_confirm",
    ),
    OneTimeCode.Purpose.PASSWORD_RESET: LinkPurpose(
        url_name="accounts:reset-confirm",
        session_key=keys.PASSWORD_RESET_LINK_CODE,
        lifetime_setting="PASSWORD_RESET_CODE_MINUTES",
        lifetime_unit="minutes",
        cap_setting="PASSWORD_RESET_LINKS_PER_HOUR",
        templates=("password_reset", "password_changed"),
        on_success="ent.accounts.password_reset.password_reset_confirm",
    ),
    OneTimeCode.Purpose.EMAIL_CHANGE: LinkPurpose(
        url_name="accounts:email-confirm",
        session_key=keys.EMAIL_CHANGE_LINK_CODE,
        lifetime_setting="EMAIL_CHANGE_CODE_HOURS",
        lifetime_unit="hours",
        cap_setting="EMAIL_CHANGE_LINKS_PER_HOUR",  # student requests; the help desk is not capped
        templates=("email_change", "email_changed"),
        on_success="ent.accounts.email_change.email_change_confirm",
    ),
    OneTimeCode.Purpose.STAFF_INVITE: LinkPurpose(
        url_name="helpdesk:invite",
        session_key=keys.HELPDESK_INVITE_CODE,
        lifetime_setting="STAFF_INVITE_HOURS",
        lifetime_unit="hours",
        cap_setting=None,  # only administrators send invitations
        templates=("staff_invite",),
        on_success="ent.helpdesk.services.staff_password_set",
    ),
    OneTimeCode.Purpose.FORWARD_VERIFY: LinkPurpose(
        url_name="webmail:filters-forwarding-confirm",
        session_key=keys.FORWARD_VERIFY_LINK_CODE,
        lifetime_setting="FORWARD_VERIFY_HOURS",
        lifetime_unit="hours",
        cap_setting="FORWARD_VERIFY_LINKS_PER_HOUR",
        templates=("forwarding_verify", "forwarding_changed"),
        on_success="ent.webmail.forwarding.forwarding_verify_confirm",
    ),
}


def link_lifetime(purpose: OneTimeCode.Purpose) -> timedelta:
    """How long a link of this purpose stays valid (its setting in the table)."""
    entry = LINK_PURPOSES[purpose]
    return timedelta(**{entry.lifetime_unit: getattr(settings, entry.lifetime_setting)})


def links_per_hour(purpose: OneTimeCode.Purpose) -> int | None:
    """How many links of this purpose one account may get per hour; None when not capped."""
    entry = LINK_PURPOSES[purpose]
    if entry.cap_setting is None:
        return None
    return int(getattr(settings, entry.cap_setting)) + entry.cap_extra


def link_cap_reached(*, account: Account, purpose: OneTimeCode.Purpose) -> bool:
    """True when the account already got ``links_per_hour`` links of this purpose this hour."""
    cap = links_per_hour(purpose)
    return cap is not None and codes_issued_last_hour(account=account, purpose=purpose) >= cap


def link_url(purpose: OneTimeCode.Purpose, code: str) -> str:
    """The mailed link: the purpose's page on ``settings.BASE_URL`` (never the Host header)."""
    path = reverse(LINK_PURPOSES[purpose].url_name)
    return f"{settings.BASE_URL}{path}?{urlencode({'code': code})}"


def link_mail_key(code_id: int) -> str:
    """The mail queue's idempotency key of the mail carrying a code's link: one mail per code,
    so revoking the code can withdraw its mail while it waits in the queue (``mail_withdraw``)."""
    return f"link:{code_id}"


def link_mail(row: OneTimeCode, code: str, *, to: str, context: dict[str, Any]) -> None:
    """Queue the mail carrying the link of ``row``: the purpose's template, the link built on
    the configured base URL, the link's lifetime (``hours`` or ``minutes``, as the template says
    it), keyed by the code."""
    purpose = OneTimeCode.Purpose(row.purpose)
    entry = LINK_PURPOSES[purpose]
    mail_send(
        to=to,
        template=entry.templates[0],
        context={
            **context,
            "link": link_url(purpose, code),
            entry.lifetime_unit: getattr(settings, entry.lifetime_setting),
        },
        key=link_mail_key(row.pk),
    )


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
    *,
    purpose: OneTimeCode.Purpose,
    account: Account,
    email: str,
    lifetime: timedelta | None = None,
) -> tuple[OneTimeCode, str]:
    """Create a code, revoking the open ones of the same purpose; returns (row, plaintext).

    ``lifetime`` defaults to the purpose's (``link_lifetime``).
    """
    now = clock.now()
    lifetime = lifetime if lifetime is not None else link_lifetime(purpose)
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


# --- The page a mailed link opens -------------------------------------------------------------


def code_landing(request: HttpRequest, purpose: OneTimeCode.Purpose) -> HttpResponse | None:
    """The link's GET with ``?code=``: keep the code in the session, drop it from the URL.

    Returns the redirect to the same page without the code (so the code never shows in a
    Referer header nor in the address bar of the page with the form), or None when the request
    is not that GET. The redirect itself carries ``Referrer-Policy: no-referrer``; the page
    with the form does not (browsers would then send ``Origin: null``, which CSRF refuses).
    """
    if request.method != "GET" or "code" not in request.GET:
        return None
    entry = LINK_PURPOSES[purpose]
    request.session[entry.session_key] = request.GET["code"][:64]
    response = redirect(entry.url_name)
    response["Referrer-Policy"] = "no-referrer"
    return response


def landed_code(request: HttpRequest, purpose: OneTimeCode.Purpose) -> str:
    """The code of the link: posted with the form (a client without cookies), or kept by
    ``code_landing``; empty when there is none."""
    posted = request.POST.get("code") if request.method == "POST" else None
    return str(posted or request.session.get(LINK_PURPOSES[purpose].session_key, ""))


def landed_code_forget(request: HttpRequest, purpose: OneTimeCode.Purpose) -> None:
    """Drop the kept code (the link was used, or cannot be any more)."""
    request.session.pop(LINK_PURPOSES[purpose].session_key, None)


def code_result(
    request: HttpRequest,
    *,
    template: str,
    status: CodeStatus,
    context: dict[str, object] | None = None,
    ok: frozenset[CodeStatus] = frozenset({CodeStatus.DONE}),
    no_referrer: bool = True,
) -> HttpResponse:
    """The page saying how following the link went: 200 for ``ok``, 429 throttled, else 400."""
    http_status = 200 if status in ok else 429 if status is CodeStatus.THROTTLED else 400
    response = render(
        request, template, {"status": status.value, **(context or {})}, status=http_status
    )
    if no_referrer:
        response["Referrer-Policy"] = "no-referrer"
    return response
