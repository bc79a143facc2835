"""Self-service pages: forgotten password, profile, password and address changes.

Thin: parse with a form, call one service of ``password_reset``, ``password_change`` or
``email_change``, render. Mailed links land with ``ent.core.codes.code_landing``: the GET with
``?code=`` moves the code into the session and redirects, with ``Referrer-Policy:
no-referrer``, to the same URL without it, so the code never shows in a Referer header nor in
the address bar of the page holding the form.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ent.core import clock
from ent.core.codes import CodeStatus, code_landing, code_result, landed_code, landed_code_forget
from ent.core.forms import posted
from ent.core.messages import retry_message
from ent.core.models import AuditEvent, OneTimeCode
from ent.core.net import client_ip

from . import email_change, password_policy, password_reset
from .forms_selfservice import (
    EmailChangeForm,
    PasswordChangeForm,
    ResetPasswordForm,
    ResetRequestForm,
)
from .models import Account, AccountSession
from .password_change import WrongPasswordError, password_change, password_verify
from .password_reset import ResetLink

_RESET = OneTimeCode.Purpose.PASSWORD_RESET
_EMAIL = OneTimeCode.Purpose.EMAIL_CHANGE

# How many sign-ins the profile lists.
LAST_LOGINS = 10


# --- Forgotten password -------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def reset_request(request: HttpRequest) -> HttpResponse:
    """``/password/reset/``: the same answer whatever the account (no enumeration)."""
    form = ResetRequestForm(posted(request), mail_domain=settings.STUDENT_MAIL_DOMAIN)
    if request.method == "POST" and form.is_valid():
        try:
            password_reset.password_reset_request(
                identifier=form.cleaned_data["identifier"], ip=client_ip(request)
            )
        except password_reset.ResetThrottledError as exc:
            form.add_error(None, retry_message(exc.retry_at))
            return render(request, "accounts/reset_request.html", {"form": form}, status=429)
        return render(
            request,
            "accounts/reset_sent.html",
            {"minutes": settings.PASSWORD_RESET_CODE_MINUTES},
        )
    return render(request, "accounts/reset_request.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def reset_confirm(request: HttpRequest) -> HttpResponse:
    """``/password/reset/confirm``: the new password, behind the mailed link."""
    landing = code_landing(request, _RESET)
    if landing is not None:
        return landing
    code = landed_code(request, _RESET)
    ip = client_ip(request)
    found = password_reset.password_reset_code_status(code, ip=ip) if code else CodeStatus.UNKNOWN
    if not isinstance(found, ResetLink):
        return _reset_result(request, found)
    form = ResetPasswordForm(posted(request), account=found.account)
    if request.method == "POST" and form.is_valid():
        password = form.cleaned_data["password1"]
        try:
            status = password_reset.password_reset_confirm(code=code, password=password, ip=ip)
        except ValidationError as exc:
            form.add_error("password1", exc)
        else:
            landed_code_forget(request, _RESET)
            if status is CodeStatus.DONE and request.user.is_authenticated:
                # Every session of the account ended; this browser's too (no automatic login).
                logout(request)
            return _reset_result(request, status)
    return render(
        request,
        "accounts/reset_confirm.html",
        {"form": form, "rules": password_policy.rules(), "account": found.account},
    )


def _reset_result(request: HttpRequest, status: CodeStatus) -> HttpResponse:
    return code_result(
        request,
        template="accounts/reset_result.html",
        status=status,
        context={"minutes": settings.PASSWORD_RESET_CODE_MINUTES},
    )


# --- Profile and signed-in changes ----------------------------------------------------------


def _account(request: HttpRequest) -> Account:
    user = request.user
    assert isinstance(user, Account)
    return user


def student_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A signed-in student's page: a staff session gets 403, as a student does at the help desk.

    The self-service pages (profile, password, personal address) are the students' own: a
    staff account verifying an address there could then reset its password without TOTP.
    """

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not isinstance(user, Account) or user.kind != Account.Kind.STUDENT:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


@never_cache
@student_required
def profile(request: HttpRequest) -> HttpResponse:
    """``/account/``: what the university knows of the student, and the last sign-ins."""
    account = _account(request)
    logins = AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN_OK, actor=account)[:LAST_LOGINS]
    pending = account.codes.filter(
        purpose=OneTimeCode.Purpose.EMAIL_CHANGE, used_at__isnull=True, revoked_at__isnull=True
    ).order_by("-created_at")
    pending_email = next(
        (row.email for row in pending[:1] if row.expires_at > clock.now()),
        None,
    )
    return render(
        request,
        "accounts/profile.html",
        {
            "account": account,
            "student": account.student,
            "logins": logins,
            "pending_email": pending_email,
        },
    )


@never_cache
@student_required
@require_http_methods(["GET", "POST"])
def password_change_view(request: HttpRequest) -> HttpResponse:
    """``/account/password/``: current password, new one twice; other sessions end."""
    account = _account(request)
    form = PasswordChangeForm(posted(request), account=account)
    if request.method == "POST" and form.is_valid():
        old_key = request.session.session_key
        try:
            ended = password_change(
                account=account,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["password1"],
                ip=client_ip(request),
                keep_session_key=old_key,
            )
        except WrongPasswordError as exc:
            form.add_error("current_password", exc.message())
        except ValidationError as exc:
            form.add_error("password1", exc)
        else:
            _keep_this_session(request, account, old_key)
            messages.success(request, _changed_message(ended))
            return redirect("accounts:profile")
    return render(
        request, "accounts/password_change.html", {"form": form, "rules": password_policy.rules()}
    )


def _keep_this_session(request: HttpRequest, account: Account, old_key: str | None) -> None:
    # Django signs sessions with the password hash: refresh it so this browser stays signed
    # in. It also gives the session a new key; the session index must follow it.
    account.refresh_from_db(fields=["password"])
    update_session_auth_hash(request, account)
    new_key = request.session.session_key
    if old_key and new_key and old_key != new_key:
        AccountSession.objects.filter(session_key=old_key).update(session_key=new_key)


def _changed_message(ended: int) -> str:
    if not ended:
        return _("Votre mot de passe a été modifié.")
    return _("Votre mot de passe a été modifié. Vos autres sessions ont été fermées (%(n)d).") % {
        "n": ended
    }


@never_cache
@student_required
@require_http_methods(["GET", "POST"])
def email_change_view(request: HttpRequest) -> HttpResponse:
    """``/account/email/``: the new address and the password; a link goes to the new one."""
    account = _account(request)
    form = EmailChangeForm(posted(request))
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        try:
            password_verify(account=account, password=form.cleaned_data["current_password"], ip=ip)
        except WrongPasswordError as exc:
            form.add_error("current_password", exc.message())
        else:
            address = form.cleaned_data["email"]
            try:
                email_change.email_change_start(
                    account=account, new_email=address, actor=account, ip=ip
                )
            except email_change.TooManyRequestsError:
                form.add_error(None, _too_many_links_message())
                context = {"form": form, "account": account}
                return render(request, "accounts/email_change.html", context, status=429)
            messages.success(request, _link_sent_message(address))
            return redirect("accounts:profile")
    return render(request, "accounts/email_change.html", {"form": form, "account": account})


def _too_many_links_message() -> str:
    return _(
        "Vous avez demandé plusieurs liens de confirmation dans l'heure. Suivez le"
        " dernier reçu, ou réessayez plus tard."
    )


def _link_sent_message(address: str) -> str:
    return _(
        "Un lien de confirmation a été envoyé à %(email)s. Votre adresse actuelle reste"
        " utilisée tant que vous ne l'avez pas suivi."
    ) % {"email": address}


@never_cache
@require_http_methods(["GET", "POST"])
def email_confirm(request: HttpRequest) -> HttpResponse:
    """``/account/email/confirm``: the link mailed to the new address (no sign-in needed:
    it may be opened on another device; the code proves the mailbox)."""
    landing = code_landing(request, _EMAIL)
    if landing is not None:
        return landing
    code = landed_code(request, _EMAIL)
    ip = client_ip(request)
    if request.method == "GET":
        refusal = email_change.email_change_code_status(code, ip=ip) if code else CodeStatus.UNKNOWN
        if refusal is None:
            return render(request, "accounts/email_confirm.html")
        return _email_result(request, refusal)
    status = email_change.email_change_confirm(code=code, ip=ip)
    landed_code_forget(request, _EMAIL)
    return _email_result(request, status)


def _email_result(request: HttpRequest, status: CodeStatus) -> HttpResponse:
    return code_result(request, template="accounts/email_result.html", status=status)
