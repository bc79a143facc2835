"""Finding a student and their account page: data, state, sessions, codes, actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ent.accounts.models import Account
from ent.accounts.sessions import sessions_active
from ent.core.models import AuditEvent, OneTimeCode
from ent.core.net import client_ip
from ent.directory.models import Student
from ent.directory.queue import directory_enabled
from ent.directory.selectors import directory_status

from .. import selectors, services
from ..forms import SearchForm
from ..roles import Role, role_of, staff_required
from ._common import _actor, _page, _run


@staff_required(Role.AGENT)
def search(request: HttpRequest) -> HttpResponse:
    """Students by number, name, INE or address; paginated."""
    form = SearchForm(request.GET or None)
    page = None
    query = ""
    if form.is_valid():
        query = form.cleaned_data["q"]
        page = _page(request, selectors.students_search(query)) if query else None
    return render(
        request,
        "helpdesk/search.html",
        {"form": form, "page": page, "page_extra": "&" + urlencode({"q": query}), "nav": "search"},
    )


# --- One student's account ---------------------------------------------------------------------


@staff_required(Role.AGENT)
def student(request: HttpRequest, pk: int) -> HttpResponse:
    """Student record, account state, directory entry (with ``ENT_LDAP_URL``), sessions,
    pending codes, requests and audit history."""
    record = get_object_or_404(Student.objects.select_related("account"), pk=pk)
    account: Account | None = getattr(record, "account", None)
    return render(
        request,
        "helpdesk/student.html",
        {
            "student": record,
            "account": account,
            "sessions": sessions_active(account) if account is not None else [],
            "codes": _codes(account),
            "forwarding": _forwarding(record, account),
            "ldap": directory_status(record) if directory_enabled() else None,
            "sign_in_blocks": selectors.sign_in_blocks(record) if account is not None else [],
            "requests": record.update_requests.all()[:20],
            "events": _page(
                request, AuditEvent.objects.filter(student=record).select_related("actor")
            ),
            "is_admin": role_of(request.user) == Role.ADMINISTRATOR,
            "nav": "search",
        },
    )


def _forwarding(record: Student, account: Account | None) -> dict[str, Any]:
    """The mailbox's forwarding rule, read-only (issue 5): where a thief would send the mail."""
    from ent.webmail.backends import MailStoreError, mail_store

    if account is None or account.state == Account.State.PENDING:
        return {"known": False, "rule": None}
    try:
        return {"known": True, "rule": mail_store().forwarding(record.institutional_email)}
    except MailStoreError:
        return {"known": False, "rule": None, "unavailable": True}


def _codes(account: Account | None) -> list[dict[str, Any]]:
    if account is None:
        return []
    return [
        {
            "label": _code_label(code.purpose),
            "created_at": code.created_at,
            "expires_at": code.expires_at,
            "email": code.email,
        }
        for code in selectors.pending_codes(account)
    ]


def _code_label(purpose: str) -> str:
    try:
        return str(OneTimeCode.Purpose(purpose).label)
    except ValueError:
        return purpose


STUDENT_ACTIONS: dict[str, tuple[Role, Callable[..., Any], Any]] = {
    "resend-activation": (
        Role.AGENT,
        services.account_activation_resend,
        _("Un nouveau lien d'activation a été envoyé à l'adresse donnée par l'étudiant."),
    ),
    "send-reset": (
        Role.AGENT,
        services.account_reset_send,
        _("Un lien de réinitialisation a été envoyé à l'adresse personnelle vérifiée."),
    ),
    "lock": (Role.AGENT, services.account_lock, _("Le compte est bloqué et ses sessions fermées.")),
    "unlock": (Role.AGENT, services.account_unlock, _("Le compte est débloqué.")),
    "end-sessions": (
        Role.AGENT,
        services.account_sessions_end,
        _("Les sessions du compte sont fermées."),
    ),
    "disable": (Role.ADMINISTRATOR, services.account_disable, _("Le compte est désactivé.")),
}


@require_POST
@staff_required(Role.AGENT)
def student_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One button of the account page (POST); administrator-only ones checked here too."""
    if action not in STUDENT_ACTIONS:
        raise Http404
    role, function, done = STUDENT_ACTIONS[action]
    if role == Role.ADMINISTRATOR:
        return _admin_student_action(request, pk, function, str(done))
    account = get_object_or_404(Account.objects.select_related("student"), student_id=pk)
    _run(
        request,
        lambda: function(account=account, actor=_actor(request), ip=client_ip(request)),
        str(done),
    )
    return redirect("helpdesk:student", pk=pk)


@require_POST
@staff_required(Role.AGENT)
def student_unblock(request: HttpRequest, pk: int) -> HttpResponse:
    """Lift the sign-in throttling of the untrusted clients, or of one device (``device``)."""
    account = get_object_or_404(Account.objects.select_related("student"), student_id=pk)
    device = request.POST.get("device", "").strip()[:64] or None
    _run(
        request,
        lambda: services.account_sign_in_unblock(
            account=account, device=device, actor=_actor(request), ip=client_ip(request)
        ),
        _("Le blocage des connexions est levé.")
        if device is None
        else _("Le blocage de cet appareil est levé."),
    )
    return redirect("helpdesk:student", pk=pk)


@staff_required(Role.ADMINISTRATOR)
def _admin_student_action(
    request: HttpRequest, pk: int, function: Callable[..., Any], done: str
) -> HttpResponse:
    account = get_object_or_404(Account.objects.select_related("student"), student_id=pk)
    _run(
        request,
        lambda: function(account=account, actor=_actor(request), ip=client_ip(request)),
        done,
    )
    return redirect("helpdesk:student", pk=pk)
