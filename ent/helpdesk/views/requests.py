"""The update-request queue: list, one request, take / approve / reject."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ent.accounts import update_request as ur
from ent.accounts.models import UpdateRequest
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


@staff_required(Role.AGENT)
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One request, with take / approve / reject."""
    item = get_object_or_404(
        UpdateRequest.objects.select_related("student", "student__account", "assigned_to"), pk=pk
    )
    return render(
        request, "helpdesk/request.html", {"item": item, "form": DecisionForm(), "nav": "requests"}
    )


@require_POST
@staff_required(Role.AGENT)
def request_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Take, approve or reject (POST)."""
    item = get_object_or_404(UpdateRequest, pk=pk)
    actor, ip = _actor(request), client_ip(request)
    form = DecisionForm(request.POST)
    valid = form.is_valid()
    reason = form.cleaned_data["reason"].strip() if valid else ""
    identity_checked = bool(valid and form.cleaned_data["identity_checked"])
    lost_email_unchecked = (
        action == "approve"
        and item.kind == UpdateRequest.Kind.LOST_EMAIL
        and item.is_open
        and not identity_checked
    )
    # A refused reason (too long, NUL character) was taken as no reason at all: the request
    # was approved without the text the agent typed. Show the error and decide nothing.
    if (action in ("approve", "reject") and not valid) or lost_email_unchecked:
        if lost_email_unchecked:
            form.add_error(
                "identity_checked",
                _("Vérifiez l'identité de l'étudiant et cochez la case avant d'accepter."),
            )
        item = get_object_or_404(
            UpdateRequest.objects.select_related("student", "student__account", "assigned_to"),
            pk=pk,
        )
        return render(
            request,
            "helpdesk/request.html",
            {"item": item, "form": form, "nav": "requests"},
            status=400,
        )
    try:
        if action == "take":
            ur.update_request_take(request=item, actor=actor, ip=ip)
            messages.success(
                request, _("Vous avez pris en charge la demande %(r)s.") % {"r": item.reference}
            )
        elif action == "approve":
            ur.update_request_approve(
                request=item,
                reason=reason,
                actor=actor,
                ip=ip,
                identity_checked=identity_checked,
            )
            messages.success(
                request,
                _("Demande %(r)s acceptée ; l'étudiant est prévenu.") % {"r": item.reference},
            )
        elif action == "reject":
            ur.update_request_reject(request=item, reason=reason, actor=actor, ip=ip)
            messages.success(
                request,
                _("Demande %(r)s refusée ; l'étudiant est prévenu.") % {"r": item.reference},
            )
        else:
            raise Http404
    except ur.DecisionError as exc:
        messages.error(request, exc.message)
    return redirect("helpdesk:request", pk=pk)
