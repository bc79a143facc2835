"""Staff sign-in: a password, then a TOTP code (django-otp). Every step is throttled and audited.

1. ``staff_password_check``: username + password, through one function like the student
   ``login_attempt`` (exactly one password hash on every path, the same answer for an unknown
   username and a wrong password, CNIL throttling per username and per address). It opens no
   session: the view only remembers, for a few minutes, who passed this step.
2. ``staff_totp_check``: the code of the account's confirmed TOTP device, throttled per account.
   Only then does the view open the session (``login`` + ``django_otp.login``).
   An account without a confirmed device enrols first: ``staff_totp_device`` gives the
   (unconfirmed) device whose key is shown as a QR code, ``staff_totp_confirm`` confirms it with
   a first code.
"""

from __future__ import annotations

from base64 import b32encode
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

import segno
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from ent.accounts.models import Account
from ent.core import throttle
from ent.core.audit import Kind, audit_record


class StaffLoginStatus(Enum):
    """Outcome of a staff password check."""

    OK = "ok"
    FAILED = "failed"
    THROTTLED = "throttled"


@dataclass(frozen=True)
class StaffLoginResult:
    """What ``staff_password_check`` decided."""

    status: StaffLoginStatus
    account: Account | None = None
    retry_at: datetime | None = None


def _key(username: str) -> str:
    # A prefix keeps staff usernames apart from student numbers in the shared counters.
    return "staff:" + username.strip().lower()


def staff_password_check(*, username: str, password: str, ip: str | None) -> StaffLoginResult:
    """Step 1: is this an active staff account with this password?

    A student number, an unknown name, a disabled staff account and a wrong password all get
    the same FAILED answer, after the same amount of hashing.
    """
    username = username.strip()
    key = _key(username)
    account = Account.objects.filter(username=username, kind=Account.Kind.STAFF).first()
    blocked = throttle.blocked("helpdesk-password", key, ip=ip)
    if blocked is not None:
        audit_record(kind=Kind.STAFF_LOGIN_THROTTLED, actor=account, ip=ip, username=username)
        return StaffLoginResult(StaffLoginStatus.THROTTLED, retry_at=blocked)
    if account is not None and account.has_usable_password():
        ok = account.check_password(password) and account.is_active
    else:
        make_password(password)  # the time taken must not tell which usernames exist
        ok = False
    if ok:
        throttle.success(
            throttle.policy("helpdesk-password"), key
        )  # the password's run, not the TOTP's
        return StaffLoginResult(StaffLoginStatus.OK, account=account)
    with transaction.atomic():
        retry = throttle.failed("helpdesk-password", key, ip=ip)
        audit_record(kind=Kind.STAFF_LOGIN_FAILED, actor=account, ip=ip, username=username[:150])
    return StaffLoginResult(StaffLoginStatus.FAILED, retry_at=retry)


def confirmed_device(account: Account) -> TOTPDevice | None:
    """The account's confirmed TOTP device, if it enrolled one."""
    return TOTPDevice.objects.filter(user=account, confirmed=True).first()


@dataclass(frozen=True)
class TotpResult:
    """Outcome of a TOTP code check: the device on success, else when to retry (if blocked)."""

    device: TOTPDevice | None
    retry_at: datetime | None = None
    throttled: bool = False


def _totp_key(account: Account) -> str:
    return f"totp:{account.pk}"


def _check(*, account: Account, device: TOTPDevice | None, code: str, ip: str | None) -> TotpResult:
    key = _totp_key(account)
    blocked = throttle.blocked("totp", key, ip=ip)
    if blocked is not None:
        return TotpResult(None, retry_at=blocked, throttled=True)
    token = "".join(code.split())
    # The device is asked only for a well-formed code (verify_token saves the device).
    well_formed = device is not None and token.isdigit() and len(token) == device.digits
    if well_formed and device is not None:
        # verify_token reads and writes the last used step: under a row lock, freshly read,
        # so two requests presenting the same code at once cannot both be accepted.
        with transaction.atomic():
            locked = TOTPDevice.objects.select_for_update().filter(pk=device.pk).first()
            verified = locked is not None and locked.verify_token(token)
        if verified and locked is not None:
            throttle.success(throttle.policy("totp"), key)  # the TOTP's run, not the password's
            return TotpResult(locked)
    with transaction.atomic():
        retry = throttle.failed("totp", key, ip=ip)
        audit_record(kind=Kind.STAFF_TOTP_FAILED, actor=account, ip=ip)
    return TotpResult(None, retry_at=retry)


def staff_totp_check(*, account: Account, code: str, ip: str | None) -> TotpResult:
    """Step 2: the current code of the account's confirmed device (a code works once)."""
    result = _check(account=account, device=confirmed_device(account), code=code, ip=ip)
    if result.device is not None:
        audit_record(kind=Kind.STAFF_LOGIN_OK, actor=account, ip=ip)
    return result


def staff_totp_device(account: Account) -> TOTPDevice:
    """The unconfirmed device being enrolled (created on first call, then the same key)."""
    device = TOTPDevice.objects.filter(user=account, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=account, name="ENT", confirmed=False)
    return device


def staff_totp_confirm(*, account: Account, code: str, ip: str | None) -> TotpResult:
    """Enrolment: the first code from the application confirms the device."""
    device = TOTPDevice.objects.filter(user=account, confirmed=False).first()
    result = _check(account=account, device=device, code=code, ip=ip)
    if result.device is not None:
        with transaction.atomic():
            result.device.confirmed = True
            result.device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=account).exclude(pk=result.device.pk).delete()
            audit_record(kind=Kind.STAFF_TOTP_ENROLLED, actor=account, ip=ip)
            audit_record(kind=Kind.STAFF_LOGIN_OK, actor=account, ip=ip)
    return result


def totp_secret(device: TOTPDevice) -> str:
    """The key in base32, grouped by four, for typing into an application by hand."""
    raw = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def totp_qr_svg(device: TOTPDevice, *, title: str) -> str:
    """The ``otpauth://`` URL as an inline SVG QR code (rendered here: no external service)."""
    qr = segno.make(device.config_url, error="m")
    # One user unit per module and a viewBox, no width/height: the stylesheet sizes the image
    # (.qr-code svg) and the whole code scales into it. With a fixed 285×285 size and no
    # viewBox, a 14rem box showed only the top-left corner (one finder square: unscannable).
    svg: str = qr.svg_inline(
        scale=1, omitsize=True, title=title, dark="#000", light="#fff", border=4
    )
    return svg
