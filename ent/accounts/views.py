"""Pages of the activation journey. Thin: parse with a form, call one service, render."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ent.core import clock
from ent.core import session_keys as keys
from ent.core.forms import posted
from ent.core.messages import mask_email, retry_message
from ent.core.net import client_ip
from ent.directory.models import Student

from . import activation, password_policy
from .activation import ConfirmStatus, IdentifyStatus
from .forms import ActivationForm, IdentifyForm
from .models import Account

# How long step 1 stays valid for step 2 (a student fills the form, not a coffee break).
IDENTIFIED_FOR = timedelta(minutes=30)


def remember_identified(request: HttpRequest, student: Student) -> None:
    """After a correct number + INE (activation step 1 or /login), open step 2."""
    request.session.cycle_key()
    request.session[keys.ACTIVATION_STUDENT] = student.pk
    request.session[keys.ACTIVATION_STARTED_AT] = clock.now().timestamp()


def _identified_student(request: HttpRequest) -> Student | None:
    pk = request.session.get(keys.ACTIVATION_STUDENT)
    started = request.session.get(keys.ACTIVATION_STARTED_AT, 0)
    if pk is None or clock.now().timestamp() - float(started) > IDENTIFIED_FOR.total_seconds():
        return None
    return Student.objects.select_related("account").filter(pk=pk).first()


@never_cache
@require_http_methods(["GET", "POST"])
def identify(request: HttpRequest) -> HttpResponse:
    """Activation step 1: student number + INE."""
    form = IdentifyForm(posted(request))
    already_active = False
    if request.method == "POST" and form.is_valid():
        result = activation.activation_identify(
            student_number=form.cleaned_data["student_number"],
            ine=form.cleaned_data["ine"],
            ip=client_ip(request),
        )
        if result.status is IdentifyStatus.OK and result.student is not None:
            remember_identified(request, result.student)
            return redirect("accounts:activation-details")
        if result.status is IdentifyStatus.ALREADY_ACTIVE:
            already_active = True
        elif result.status is IdentifyStatus.THROTTLED and result.retry_at:
            form.add_error(None, retry_message(result.retry_at))
        else:
            message = _(
                "Numéro étudiant ou code INE incorrect. Vérifiez les deux (le code INE figure sur"
                " votre certificat de scolarité)."
            )
            if result.retry_at:
                message += " " + retry_message(result.retry_at)
            form.add_error(None, message)
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
    student = _identified_student(request)
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
        return _confirm_result(request, ConfirmStatus.ALREADY_ACTIVE)
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

    The code first moves from the URL into the session, and the browser is sent to the same
    page without it: the code then never appears in a Referer header or in the address bar of
    the page with the button. (``Referrer-Policy: no-referrer`` on that page instead would make
    browsers send ``Origin: null`` with its form, which the CSRF check rightly refuses.)
    GET shows one button (mail scanners prefetch links, so a GET changes nothing); POST
    activates.
    """
    if request.method == "GET" and "code" in request.GET:
        request.session[keys.ACTIVATION_LINK_CODE] = request.GET["code"][:64]
        response = redirect("accounts:activation-confirm")
        response["Referrer-Policy"] = "no-referrer"
        return response
    code = request.session.get(keys.ACTIVATION_LINK_CODE, "")
    if request.method == "GET":
        refusal = activation.activation_code_status(code) if code else ConfirmStatus.UNKNOWN
        if refusal is None:
            return render(request, "accounts/activation_confirm.html")
        return _confirm_result(request, refusal)
    # A form posted with the code itself (a client without cookies, a script) is accepted too.
    code = request.POST.get("code") or code
    status = activation.activation_confirm(code=code, ip=client_ip(request))
    request.session.pop(keys.ACTIVATION_LINK_CODE, None)
    if status is ConfirmStatus.ACTIVATED:
        request.session.pop(keys.ACTIVATION_STUDENT, None)
        request.session.pop(keys.ACTIVATION_ACCOUNT, None)
    return _confirm_result(request, status)


def _confirm_result(request: HttpRequest, status: ConfirmStatus) -> HttpResponse:
    code_status = {
        ConfirmStatus.ACTIVATED: 200,
        ConfirmStatus.ALREADY_ACTIVE: 200,
        ConfirmStatus.THROTTLED: 429,
    }.get(status, 400)
    return render(
        request,
        "accounts/activation_result.html",
        {"status": status.value},
        status=code_status,
    )


def charter(request: HttpRequest) -> HttpResponse:
    """The IT charter the student accepts."""
    return render(request, "accounts/charter.html")
