"""The help-desk home: account and activation counts, the queue, mail failures, directory."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ent.core.mail import mail_queue_stats
from ent.core.net import client_ip
from ent.directory.queue import directory_enabled, directory_stats

from .. import selectors, services
from ..forms import SearchForm
from ..roles import Role, staff_required
from ._common import _actor, _run


@staff_required(Role.AGENT)
def dashboard(request: HttpRequest) -> HttpResponse:
    """Accounts per state, activations per day (chart + table), queue, mail failures, and the
    directory writer's queue (with ``ENT_LDAP_URL``)."""
    days = selectors.activations_per_day()
    return render(
        request,
        "helpdesk/dashboard.html",
        {
            "states": selectors.accounts_per_state(),
            "days": days,
            "chart": selectors.bar_chart(days),
            "chart_narrow": selectors.bar_chart(days, width=340, height=220),
            "activations_total": sum(d.count for d in days),
            "open_requests": selectors.open_requests().count(),
            "mail_failures": selectors.failed_mails(),
            "mail_failures_week": selectors.mail_failures_since(7),
            "mail_retrying": selectors.retrying_mails(),
            "mail_queue": mail_queue_stats(),
            "directory_queue": directory_stats() if directory_enabled() else None,
            "search_form": SearchForm(),
            "nav": "dashboard",
        },
    )


@staff_required(Role.AGENT)
@require_POST
def mail_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """The dashboard's "Renvoyer" button of a mail that failed for good (agents too)."""
    _run(
        request,
        lambda: services.mail_retry(delivery_id=pk, actor=_actor(request), ip=client_ip(request)),
        _("Le mail est de nouveau dans la file d'envoi."),
    )
    return redirect("helpdesk:dashboard")
