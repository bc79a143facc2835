"""Pages of the activation journey. Thin: parse with a form, call one service, render."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ent.core import session_keys as keys
from ent.core.codes import CodeStatus, code_landing, code_result, landed_code, landed_code_forget
from ent.core.forms import posted
from ent.core.messages import mask_email
from ent.core.models import OneTimeCode
from ent.core.net import client_ip

from . import activation, identity, password_policy
from .forms import ActivationForm, IdentifyForm
from .identity import IdentifyStatus
from .models import Account


@never_cache
@require_http_methods(["GET", "POST"])
def identify(request: HttpRequest) -> HttpResponse:
    """Activation step 1: student number + INE."""
    form = IdentifyForm(posted(request))
    already_active = False
    if request.method == "POST" and form.is_valid():
        result = identity.student_identify(
            form.cleaned_data["student_number"],
            form.cleaned_data["ine"],
            client=identity.Client(ip=client_ip(request)),
            purpose=identity.Purpose.ACTIVATION,
        )
        if result.status is IdentifyStatus.IDENTIFIED and result.student is not None:
            identity.remember_identified(request, result.student)
            return redirect("accounts:activation-details")
        already_active = result.status is IdentifyStatus.ALREADY_ACTIVE
        refusal = identity.refusal_message(result)
        if refusal is not None:
            form.add_error(None, refusal)
    return render(
        request,
        "accounts/activation_identify.html",
        {"form": form, "already_active": already_active, "step": 1},
        status=200,
    )


def _already_active(request: HttpRequest) -> HttpResponse:
    """This account is active already: point to login and password recovery."""
    return render(
        request,
        "accounts/activation_identify.html",
        {"form": IdentifyForm(), "already_active": True, "step": 1},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def details(request: HttpRequest) -> HttpResponse:
    """Activation step 2: personal address, password twice, IT charter."""
    student = identity.identified_student(request)
    if student is None:
        messages.info(
            request,
            _("Commencez par vous identifier avec votre numéro étudiant et votre code INE."),
        )
        return redirect("accounts:activation")
    account = getattr(student, "account", None)
    if account is not None and account.state != Account.State.PENDING:
        return _already_active(request)
    initial = {"email": account.personal_email} if account is not None else {}
    form = ActivationForm(posted(request), student=student, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            account = form.save(ip=client_ip(request))
        except activation.AlreadyActiveError:
            return _already_active(request)
        if account is not None:
            request.session[keys.ACTIVATION_ACCOUNT] = account.pk
            return redirect("accounts:activation-sent")
    return render(
        request,
        "accounts/activation_details.html",
        {"form": form, "student": student, "rules": password_policy.rules(), "step": 2},
    )


@never_cache
@require_http_methods(["GET", "POST"])
def sent(request: HttpRequest) -> HttpResponse:
    """The link went to this (masked) address; resend it or start again."""
    pk = request.session.get(keys.ACTIVATION_ACCOUNT)
    account = Account.objects.select_related("student").filter(pk=pk).first() if pk else None
    if account is None:
        return redirect("accounts:activation")
    if account.state != Account.State.PENDING:
        return _confirm_result(request, CodeStatus.ALREADY_ACTIVE)
    if request.method == "POST":
        return _resend(request, account)
    return render(
        request,
        "accounts/activation_sent.html",
        {
            "masked_email": mask_email(account.personal_email),
            "code_hours": settings.ACTIVATION_CODE_HOURS,
            "step": 3,
        },
    )


def _resend(request: HttpRequest, account: Account) -> HttpResponse:
    """Step 3's button: a new link (the previous one stops working), within the hourly cap."""
    try:
        activation.activation_resend(account=account, ip=client_ip(request))
    except activation.ResendRefusedError:
        messages.error(
            request,
            _(
                "Vous avez déjà demandé plusieurs liens dans l'heure. Attendez un peu, puis vérifiez vos courriers indésirables."
            ),
        )
    except activation.AlreadyActiveError:
        return redirect("sso:login")
    else:
        messages.success(
            request, _("Un nouveau lien vient d'être envoyé. Le précédent ne fonctionne plus.")
        )
    return HttpResponseRedirect(reverse("accounts:activation-sent"))


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest) -> HttpResponse:
    """The mailed link ``/activation/confirm?code=…``.

    The code first moves from the URL into the session (``code_landing``), and the browser is
    sent to the same page without it. GET shows one button (mail scanners prefetch links, so a
    GET changes nothing); POST activates.
    """
    landing = code_landing(request, OneTimeCode.Purpose.ACTIVATION)
    if landing is not None:
        return landing
    # A form posted with the code itself (a client without cookies, a script) is accepted too.
    code = landed_code(request, OneTimeCode.Purpose.ACTIVATION)
    if request.method == "GET":
        refusal = activation.activation_code_status(code) if code else CodeStatus.UNKNOWN
        if refusal is None:
            return render(request, "accounts/activation_confirm.html")
        return _confirm_result(request, refusal)
    status = activation.activation_confirm(code=code, ip=client_ip(request))
    landed_code_forget(request, OneTimeCode.Purpose.ACTIVATION)
    if status is CodeStatus.DONE:
        request.session.pop(keys.ACTIVATION_STUDENT, None)
        request.session.pop(keys.ACTIVATION_ACCOUNT, None)
    return _confirm_result(request, status)


def _confirm_result(request: HttpRequest, status: CodeStatus) -> HttpResponse:
    # No Referrer-Policy here, as before: the page is reached without the code in its URL.
    return code_result(
        request,
        template="accounts/activation_result.html",
        status=status,
        ok=frozenset({CodeStatus.DONE, CodeStatus.ALREADY_ACTIVE}),
        no_referrer=False,
    )


def charter(request: HttpRequest) -> HttpResponse:
    """The IT charter the student accepts."""
    return render(request, "accounts/charter.html")
