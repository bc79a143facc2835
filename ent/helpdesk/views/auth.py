"""Help-desk sign-in: password, then the TOTP code (or its enrolment); the invitation link."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from ent.accounts.backends import PATH as BACKEND
from ent.accounts.models import Account
from ent.core import clock
from ent.core import session_keys as keys
from ent.core.codes import code_landing
from ent.core.forms import posted
from ent.core.messages import retry_message
from ent.core.models import OneTimeCode
from ent.core.net import client_ip

from .. import auth, services
from ..forms import StaffLoginForm, StaffPasswordForm, TotpForm

# Between the password and the TOTP code: long enough to open the application, no more.
PENDING_FOR = timedelta(minutes=10)


def _pending_staff(request: HttpRequest) -> Account | None:
    pk = request.session.get(keys.HELPDESK_PENDING_STAFF)
    at = float(request.session.get(keys.HELPDESK_PENDING_AT, 0))
    if pk is None or clock.now().timestamp() - at > PENDING_FOR.total_seconds():
        return None
    account = Account.objects.filter(pk=pk, kind=Account.Kind.STAFF).first()
    return account if account is not None and account.is_active else None


def _open_session(request: HttpRequest, account: Account, device: Any) -> HttpResponse:
    request.session.pop(keys.HELPDESK_PENDING_STAFF, None)
    request.session.pop(keys.HELPDESK_PENDING_AT, None)
    auth_login(request, account, backend=BACKEND)  # new session id
    otp_login(request, device)
    return redirect("helpdesk:dashboard")


@never_cache
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    """``/helpdesk/login``: username and password (then the TOTP code)."""
    form = StaffLoginForm(posted(request))
    if request.method == "POST" and form.is_valid():
        result = auth.staff_password_check(
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password"],
            ip=client_ip(request),
        )
        if result.status is auth.StaffLoginStatus.OK and result.account is not None:
            request.session.cycle_key()
            request.session[keys.HELPDESK_PENDING_STAFF] = result.account.pk
            request.session[keys.HELPDESK_PENDING_AT] = clock.now().timestamp()
            if auth.confirmed_device(result.account) is None:
                return redirect("helpdesk:enrol")
            return redirect("helpdesk:totp")
        if result.status is auth.StaffLoginStatus.THROTTLED and result.retry_at is not None:
            form.add_error(None, retry_message(result.retry_at))
        else:
            message = _("Identifiant ou mot de passe incorrect.")
            if result.retry_at is not None:
                message += " " + retry_message(result.retry_at)
            form.add_error(None, message)
    return render(request, "helpdesk/login.html", {"form": form})


def _totp_error(form: TotpForm, result: auth.TotpResult) -> None:
    if result.throttled and result.retry_at is not None:
        form.add_error(None, retry_message(result.retry_at))
        return
    message = _("Code incorrect ou déjà utilisé. Attendez le code suivant de l'application.")
    if result.retry_at is not None:
        message += " " + retry_message(result.retry_at)
    form.add_error("code", message)


@never_cache
@require_http_methods(["GET", "POST"])
def totp(request: HttpRequest) -> HttpResponse:
    """Step 2: the code of the authenticator application."""
    account = _pending_staff(request)
    if account is None:
        return redirect("helpdesk:login")
    if auth.confirmed_device(account) is None:
        return redirect("helpdesk:enrol")
    form = TotpForm(posted(request))
    if request.method == "POST" and form.is_valid():
        result = auth.staff_totp_check(
            account=account, code=form.cleaned_data["code"], ip=client_ip(request)
        )
        if result.device is not None:
            return _open_session(request, account, result.device)
        _totp_error(form, result)
    return render(request, "helpdesk/totp.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """First sign-in (or after a reset): scan the QR code, confirm with a first code."""
    account = _pending_staff(request)
    if account is None:
        return redirect("helpdesk:login")
    if auth.confirmed_device(account) is not None:
        return redirect("helpdesk:totp")
    device = auth.staff_totp_device(account)
    form = TotpForm(posted(request))
    if request.method == "POST" and form.is_valid():
        result = auth.staff_totp_confirm(
            account=account, code=form.cleaned_data["code"], ip=client_ip(request)
        )
        if result.device is not None:
            messages.success(request, _("Votre application d'authentification est enregistrée."))
            return _open_session(request, account, result.device)
        _totp_error(form, result)
    return render(
        request,
        "helpdesk/enrol.html",
        {
            "form": form,
            "qr_svg": auth.totp_qr_svg(
                device, title=_("QR code à scanner avec l'application d'authentification")
            ),
            "secret": auth.totp_secret(device),
            "issuer": settings.OTP_TOTP_ISSUER,
            "account_name": account.username,
        },
    )


def _invite_page(request: HttpRequest, context: dict[str, Any], status: int) -> HttpResponse:
    return render(request, "helpdesk/invite.html", context, status=status)


def _invite_password_set(
    request: HttpRequest, form: StaffPasswordForm, code: str, ip: str | None
) -> HttpResponse | None:
    """Set the password of a valid form; ``None`` when the service refused it (error on form)."""
    try:
        done = services.staff_password_set(
            code=code, password=form.cleaned_data["password1"], ip=ip
        )
    except services.InviteThrottledError:
        return _invite_page(request, {"throttled": True}, status=429)
    except services.ActionError as exc:
        form.add_error("password1", exc.message)
        return None
    request.session.pop(keys.HELPDESK_INVITE_CODE, None)
    if done is None:
        return _invite_page(request, {"invalid": True}, status=400)
    messages.success(
        request,
        _(
            "Votre mot de passe est enregistré. Connectez-vous pour enregistrer votre application d'authentification."
        ),
    )
    return redirect("helpdesk:login")


@never_cache
@require_http_methods(["GET", "POST"])
def invite(request: HttpRequest) -> HttpResponse:
    """The mailed link of a new staff member: choose a password.

    As for activation, the code leaves the address bar (into the session) before the form shows.
    """
    landing = code_landing(request, OneTimeCode.Purpose.STAFF_INVITE)
    if landing is not None:
        return landing
    code = request.session.get(keys.HELPDESK_INVITE_CODE, "")
    ip = client_ip(request)
    try:
        account = services.staff_invite_account(code, ip=ip) if code else None
    except services.InviteThrottledError:
        return _invite_page(request, {"throttled": True}, status=429)
    if account is None:
        return _invite_page(request, {"invalid": True}, status=400)
    form = StaffPasswordForm(posted(request))
    if request.method == "POST" and form.is_valid():
        answer = _invite_password_set(request, form, code, ip)
        if answer is not None:
            return answer
    return render(request, "helpdesk/invite.html", {"form": form, "username": account.username})
