"""Courrier › Filtres: the Filtres page, Transfert, its verification link, and Répondeur.

Thin: parse with a form, call one service of ``ent.webmail.forwarding`` (or ``vacation``),
render. The mailed link lands with ``ent.core.codes.code_landing``, as every mailed link: the
GET with ``?code=`` moves the code into the session and redirects, with ``Referrer-Policy:
no-referrer``, to the same URL without it; a POST button then confirms.

A mail store that cannot be reached gives a clear page (503), never a stack trace, and the form
keeps what the student typed.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from ent.accounts.models import Account
from ent.accounts.views_selfservice import student_required
from ent.core.codes import CodeStatus, code_landing, code_result, landed_code, landed_code_forget
from ent.core.models import OneTimeCode
from ent.core.net import client_ip

from . import forwarding, vacation
from .backends import MailStoreError, mail_store
from .filters_forms import ForwardingForm, VacationForm
from .forwarding import PendingRule, SetOutcome

_FORWARD = OneTimeCode.Purpose.FORWARD_VERIFY


def _account(request: HttpRequest) -> Account:
    user = request.user
    assert isinstance(user, Account)
    return user


def _unavailable(request: HttpRequest) -> HttpResponse:
    return render(request, "webmail/filters_unavailable.html", status=503)


@never_cache
@student_required
def filters(request: HttpRequest) -> HttpResponse:
    """``/webmail/filters/``: the filters (Transfert, Répondeur) and whether each is on."""
    account = _account(request)
    store = mail_store()
    try:
        state = forwarding.forwarding_state(account=account, store=store)
        reply = store.vacation(state.mailbox)
    except MailStoreError:
        return _unavailable(request)
    return render(request, "webmail/filters.html", {"state": state, "vacation": reply})


@never_cache
@student_required
@require_http_methods(["GET", "POST"])
def forwarding_page(request: HttpRequest) -> HttpResponse:
    """``/webmail/filters/forwarding/``: the guide's form, and whether forwarding is on."""
    account = _account(request)
    store = mail_store()
    try:
        state = forwarding.forwarding_state(account=account, store=store)
    except MailStoreError:
        return _unavailable(request)
    if request.method == "GET":
        form = ForwardingForm(initial=ForwardingForm.initial_for(state))
        return _forwarding_render(request, form, state)
    form = ForwardingForm(request.POST)
    if not form.is_valid():
        return _forwarding_render(request, form, state)
    try:
        outcome = form.save(account=account, store=store, ip=client_ip(request))
    except forwarding.TooManyRequestsError:
        form.add_error(None, _too_many_links())
        return _forwarding_render(request, form, state, status=429)
    except MailStoreError:
        return _unavailable(request)
    if outcome is None:
        return _forwarding_render(request, form, state)
    messages.success(
        request, _forwarding_saved(outcome, account=account, address=form.used_address)
    )
    return redirect("webmail:filters-forwarding")


def _too_many_links() -> str:
    """Why no new confirmation link was sent (the hourly cap)."""
    return _(
        "Vous avez demandé plusieurs liens de confirmation dans l'heure. Suivez le"
        " dernier reçu, ou réessayez plus tard."
    )


def _forwarding_saved(outcome: SetOutcome, *, account: Account, address: str) -> str:
    """What the Transfert page says once the rule is in force, or its link is sent."""
    if outcome is SetOutcome.SET:
        return _("Le transfert vers %(email)s est enregistré.") % {
            "email": forwarding.verified_personal_email(account)
        }
    return _(
        "Un lien de confirmation a été envoyé à %(email)s. Le transfert commencera quand"
        " vous l'aurez suivi."
    ) % {"email": address}


def _forwarding_render(
    request: HttpRequest, form: ForwardingForm, state: forwarding.ForwardingState, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "webmail/filters_forwarding.html",
        {"form": form, "state": state},
        status=status,
    )


@never_cache
@student_required
@require_POST
def forwarding_remove(request: HttpRequest) -> HttpResponse:
    """``/webmail/filters/forwarding/remove``: stop forwarding (POST, from the Transfert page)."""
    try:
        removed = forwarding.forwarding_remove(account=_account(request), ip=client_ip(request))
    except MailStoreError:
        return _unavailable(request)
    if removed:
        messages.success(
            request, _("Le transfert est arrêté : vos messages restent dans ce compte.")
        )
    return redirect("webmail:filters-forwarding")


@never_cache
@require_http_methods(["GET", "POST"])
def forwarding_confirm(request: HttpRequest) -> HttpResponse:
    """``/webmail/filters/forwarding/confirm``: the link mailed to the new address.

    No sign-in needed: the link is often opened in the other mailbox, on another device; the
    code proves that mailbox, and the student typed their password when asking for it.
    """
    landing = code_landing(request, _FORWARD)
    if landing is not None:
        return landing
    code = landed_code(request, _FORWARD)
    ip = client_ip(request)
    if request.method == "GET":
        found = forwarding.forwarding_verify_pending(code, ip=ip) if code else CodeStatus.UNKNOWN
        if isinstance(found, PendingRule):
            return render(
                request,
                "webmail/filters_forwarding_confirm.html",
                {"pending": found},
            )
        return _confirm_result(request, found)
    try:
        status = forwarding.forwarding_verify_confirm(code=code, ip=ip)
    except MailStoreError:
        return _unavailable(request)
    if status is not CodeStatus.REFUSED:
        landed_code_forget(request, _FORWARD)
    return _confirm_result(request, status)


def _confirm_result(request: HttpRequest, status: CodeStatus) -> HttpResponse:
    return code_result(request, template="webmail/filters_forwarding_result.html", status=status)


# --- Répondeur (automatic reply) -----------------------------------------------------------


@never_cache
@student_required
@require_http_methods(["GET", "POST"])
def vacation_page(request: HttpRequest) -> HttpResponse:
    """``/webmail/filters/vacation/``: the automatic reply (subject, message, until when)."""
    account = _account(request)
    store = mail_store()
    mailbox = forwarding.mailbox_of(account)
    try:
        current = store.vacation(mailbox)
    except MailStoreError:
        return _unavailable(request)
    if request.method == "GET":
        form = VacationForm(initial=VacationForm.initial_for(current))
        return render(request, "webmail/filters_vacation.html", {"form": form, "current": current})
    form = VacationForm(request.POST)
    if not form.is_valid():
        context = {"form": form, "current": current}
        return render(request, "webmail/filters_vacation.html", context, status=400)
    try:
        vacation.vacation_save(
            account=account,
            subject=form.cleaned_data["subject"],
            body=form.cleaned_data["body"],
            until=form.cleaned_data["until"],
            ip=client_ip(request),
            store=store,
        )
    except MailStoreError:
        return _unavailable(request)
    messages.success(request, _("Le répondeur est enregistré."))
    return redirect("webmail:filters-vacation")


@never_cache
@student_required
@require_POST
def vacation_remove(request: HttpRequest) -> HttpResponse:
    """``/webmail/filters/vacation/remove``: stop the automatic reply."""
    try:
        removed = vacation.vacation_remove(account=_account(request), ip=client_ip(request))
    except MailStoreError:
        return _unavailable(request)
    if removed:
        messages.success(request, _("Le répondeur est arrêté."))
    return redirect("webmail:filters-vacation")
