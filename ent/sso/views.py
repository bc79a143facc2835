"""Sign in and sign out of the ENT."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from ent.accounts.backends import PATH as BACKEND
from ent.accounts.identity import remember_identified
from ent.accounts.models import Account
from ent.core import session_keys as keys
from ent.core.audit import Kind, audit_record
from ent.core.csp import form_action_allow
from ent.core.forms import posted
from ent.core.messages import retry_message
from ent.core.net import client_ip

from .cas import mark_fresh_login
from .devices import device_cookie_set
from .form_targets import login_form_targets
from .forms import LoginForm
from .services import LoginResult, LoginStatus, login_attempt


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = {str(h) for h in settings.ALLOWED_HOSTS}
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts=allowed, require_https=settings.BASE_URL_SECURE
    ):
        return target
    return "/"


@never_cache
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    """``/login``: student number (or institutional address) and password."""
    form = LoginForm(posted(request))
    ine_of_active = False
    if request.method == "POST" and form.is_valid():
        target = _safe_next(request)
        result = login_attempt(
            identifier=form.cleaned_data["identifier"],
            password=form.cleaned_data["password"],
            ip=client_ip(request),
            on_success=_session_opener(request, target),
            device_cookie=request.COOKIES.get(settings.DEVICE_COOKIE_NAME),
        )
        elsewhere = _login_redirect(request, result, target)
        if elsewhere is not None:
            return elsewhere
        ine_of_active = _login_error_add(form, result)
    # ``renew``: a service asked for the password again (CAS renew=true); the form is shown
    # even to a signed-in student, with a word of explanation.
    renew = (request.POST.get("renew") or request.GET.get("renew")) == "1"
    next_url = _safe_next(request)
    response = render(
        request,
        "sso/login.html",
        {"form": form, "next": next_url, "renew": renew, "ine_of_active": ine_of_active},
    )
    # The form's redirects may end at a service: its CSP form-action must allow it.
    return form_action_allow(response, *login_form_targets(next_url))


def _session_opener(request: HttpRequest, target: str) -> Callable[[Account], None]:
    """What ``login_attempt`` calls once the password is right: the new session."""

    def open_session(account: Account) -> None:
        # Inside the transaction of the login's audit record: one COMMIT for it all.
        if request.user.is_authenticated and request.user.pk != account.pk:
            # Another student on the same browser: a real logout of the first one, so
            # its CAS tickets go and its services hear of it (auth_login would only flush).
            session_end(request)
        auth_login(request, account, backend=BACKEND)  # new session id
        # Back to /cas/login: the ticket it issues comes from the password just typed
        # (CAS "renew" and isFromNewLogin).
        mark_fresh_login(request, target)
        request.session.save()  # now, in this transaction; the response's save is then free

    return open_session


def _login_redirect(request: HttpRequest, result: LoginResult, target: str) -> HttpResponse | None:
    """Where a login attempt sends the browser (signed in, or on to activation), if anywhere."""
    if result.status is LoginStatus.OK:
        signed_in = redirect(target)
        if result.device_cookie is not None:
            device_cookie_set(signed_in, result.device_cookie)
        return signed_in
    if result.status is LoginStatus.ACTIVATE and result.student is not None:
        remember_identified(request, result.student)
        return redirect("accounts:activation-details")
    if result.status is LoginStatus.PENDING and result.account is not None:
        # The password proves who this is: offer to resend the link to the same address.
        request.session[keys.ACTIVATION_ACCOUNT] = result.account.pk
        messages.info(
            request,
            _(
                "Votre compte n'est pas encore activé : cliquez sur le lien envoyé à votre"
                " adresse personnelle, ou demandez-en un nouveau ci-dessous."
            ),
        )
        return redirect("accounts:activation-sent")
    return None


def _login_error_add(form: LoginForm, result: LoginResult) -> bool:
    """Tell on the form why the attempt failed; True when it was an INE of an active account."""
    if result.status is LoginStatus.THROTTLED and result.retry_at is not None:
        form.add_error(None, retry_message(result.retry_at))
        return False
    if result.status is LoginStatus.DISABLED:
        form.add_error(
            None,
            _("Ce compte est bloqué. Contactez l'assistance : %(m)s")
            % {"m": settings.HELPDESK_EMAIL},
        )
        return False
    if result.ine_of_active:
        # What the activation page says for the same pair (nothing new is disclosed).
        message = _(
            "Votre compte est déjà activé : votre code INE n'est plus votre mot de passe."
            " Connectez-vous avec le mot de passe que vous avez choisi."
        )
    else:
        message = _("Identifiant ou mot de passe incorrect.")
    if result.retry_at is not None:
        message += " " + retry_message(result.retry_at)
    form.add_error(None, message)
    return result.ine_of_active


def session_end(request: HttpRequest) -> None:
    """Audit and end the browser's session; ``user_logged_out`` makes the single logouts.

    The one logout of the ENT (``/logout``, ``/cas/logout``, another student signing in)."""
    if request.user.is_authenticated:
        audit_record(
            kind=Kind.LOGOUT,
            student=getattr(request.user, "student", None),
            actor=request.user,
            ip=client_ip(request),
        )
    auth_logout(request)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """End the ENT session."""
    session_end(request)
    return redirect("portal:home")
