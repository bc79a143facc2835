"""The update-request queue: list, one request, take / approve / reject."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ent.accounts import update_request as ur
from ent.accounts.models import Account, UpdateRequest
from ent.core.net import client_ip

from ..forms import DecisionForm, RequestFilterForm
from ..roles import Role, staff_required
from ._common import _actor, _page


@staff_required(Role.AGENT)
def requests(request: HttpRequest) -> HttpResponse:
    """The queue, filtered by status (open ones by default) and kind."""
    form = RequestFilterForm(request.GET or None)
    status, kind = "open", ""
    if form.is_valid():
        status = form.cleaned_data["status"] or "open"
        kind = form.cleaned_data["kind"]
    qs = UpdateRequest.objects.select_related("student", "assigned_to").order_by("created_at", "pk")
    if status == "open":
        qs = qs.filter(status__in=[UpdateRequest.Status.NEW, UpdateRequest.Status.IN_PROGRESS])
    elif status != "all":
        qs = qs.filter(status=status).order_by("-updated_at", "-pk")
    if kind:
        qs = qs.filter(kind=kind)
    return render(
        request,
        "helpdesk/requests.html",
        {
            "form": form,
            "page": _page(request, qs),
            "page_extra": "&" + urlencode({"status": status, "kind": kind}),
            "nav": "requests",
        },
    )


def _request_page(
    request: HttpRequest, pk: int, form: DecisionForm, status: int = 200
) -> HttpResponse:
    item = get_object_or_404(
        UpdateRequest.objects.select_related("student", "student__account", "assigned_to"), pk=pk
    )
    return render(
        request,
        "helpdesk/request.html",
        {"item": item, "form": form, "nav": "requests"},
        status=status,
    )


@staff_required(Role.AGENT)
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One request, with take / approve / reject."""
    return _request_page(request, pk, DecisionForm())


def _decide(
    item: UpdateRequest, action: str, form: DecisionForm, actor: Account, ip: str | None
) -> str:
    """Make the decision; the message that confirms it. Raises ``ur.DecisionError``."""
    reason, identity_checked = form.decision()
    names = {"r": item.reference}
    if action == "take":
        ur.update_request_take(request=item, actor=actor, ip=ip)
        return _("Vous avez pris en charge la demande %(r)s.") % names
    if action == "approve":
        ur.update_request_approve(
            request=item, reason=reason, actor=actor, ip=ip, identity_checked=identity_checked
        )
        return _("Demande %(r)s acceptée ; l'étudiant est prévenu.") % names
    ur.update_request_reject(request=item, reason=reason, actor=actor, ip=ip)
    return _("Demande %(r)s refusée ; l'étudiant est prévenu.") % names


@require_POST
@staff_required(Role.AGENT)
def request_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Take, approve or reject (POST); a refused input decides nothing and shows the error."""
    item = get_object_or_404(UpdateRequest, pk=pk)
    if action not in ("take", "approve", "reject"):
        raise Http404
    form = DecisionForm(request.POST)
    if form.refuses(item=item, action=action):
        return _request_page(request, pk, form, status=400)
    try:
        done = _decide(item, action, form, _actor(request), client_ip(request))
    except ur.DecisionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("helpdesk:request", pk=pk)
