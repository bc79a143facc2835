"""Staff accounts (administrators): list and invite, one member, role and second factor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from ent.accounts.models import Account
from ent.core.forms import posted
from ent.core.models import AuditEvent
from ent.core.net import client_ip

from .. import auth, services
from ..forms import RoleForm, StaffCreateForm
from ..roles import ROLE_LABELS, Role, role_of, staff_required
from ._common import _actor, _run


@staff_required(Role.ADMINISTRATOR)
@require_http_methods(["GET", "POST"])
def staff(request: HttpRequest) -> HttpResponse:
    """Staff accounts, and the form to invite a new one."""
    form = StaffCreateForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            created = services.staff_create(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                role=Role(form.cleaned_data["role"]),
                actor=_actor(request),
                ip=client_ip(request),
            )
        except services.ActionError as exc:
            form.add_error("username", exc.message)
        else:
            messages.success(
                request,
                _("Compte %(u)s créé ; un lien pour choisir son mot de passe lui a été envoyé.")
                % {"u": created.username},
            )
            return redirect("helpdesk:staff-member", pk=created.pk)
    members = [
        (m, _role_label(m))
        for m in Account.objects.filter(kind=Account.Kind.STAFF).order_by("username")
    ]
    return render(
        request, "helpdesk/staff.html", {"form": form, "members": members, "nav": "staff"}
    )


def _role_label(account: Account) -> str | None:
    role = role_of(account)
    return str(ROLE_LABELS[role]) if role is not None else None


@staff_required(Role.ADMINISTRATOR)
def staff_member(request: HttpRequest, pk: int) -> HttpResponse:
    """One staff account: role, second factor, deactivation."""
    member = get_object_or_404(Account, pk=pk, kind=Account.Kind.STAFF)
    role = role_of(member)
    return render(
        request,
        "helpdesk/staff_member.html",
        {
            "member": member,
            "role_label": _role_label(member),
            "role_form": RoleForm(initial={"role": (role or Role.AGENT).value}),
            "has_device": auth.confirmed_device(member) is not None,
            "has_password": member.has_usable_password(),
            "is_self": member.pk == request.user.pk,
            "events": AuditEvent.objects.filter(data__target=member.username)[:20],
            "nav": "staff",
        },
    )


# The buttons of a staff member's page that take no input: the service and its confirmation.
STAFF_ACTIONS: dict[str, tuple[Callable[..., Any], Any]] = {
    "deactivate": (
        services.staff_deactivate,
        gettext_lazy("Le compte est désactivé et ses sessions fermées."),
    ),
    "reset-totp": (
        services.staff_totp_reset,
        gettext_lazy(
            "Le second facteur est réinitialisé : la personne en enregistrera un nouveau à sa prochaine connexion."
        ),
    ),
    "resend-invite": (
        services.staff_invite_resend,
        gettext_lazy("Une nouvelle invitation a été envoyée."),
    ),
}


def _role_set(request: HttpRequest, member: Account, actor: Account, ip: str | None) -> None:
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choisissez un rôle."))
        return
    _run(
        request,
        lambda: services.staff_role_set(
            account=member, role=Role(form.cleaned_data["role"]), actor=actor, ip=ip
        ),
        _("Le rôle est modifié."),
    )


@require_POST
@staff_required(Role.ADMINISTRATOR)
def staff_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Change role, deactivate, reset the TOTP device, resend the invitation (POST)."""
    member = get_object_or_404(Account, pk=pk, kind=Account.Kind.STAFF)
    actor, ip = _actor(request), client_ip(request)
    if action == "role":
        _role_set(request, member, actor, ip)
    elif action in STAFF_ACTIONS:
        function, done = STAFF_ACTIONS[action]
        _run(request, lambda: function(account=member, actor=actor, ip=ip), str(done))
    else:
        raise Http404
    return redirect("helpdesk:staff-member", pk=pk)
