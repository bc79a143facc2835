"""The dashboard: accounts per state, activations per day (SVG + table), queue, mail failures."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ent.accounts import update_request as ur
from ent.accounts.models import Account, UpdateRequest
from ent.core import clock
from ent.core.models import MailFailure
from ent.helpdesk import selectors
from tests.conftest import free_port, page_text, start_activation

pytestmark = pytest.mark.django_db


def test_numbers(agent_client: Client, make_student: Any, make_active_student: Any) -> None:
    make_student()  # never activated
    make_student()
    pending = make_student()
    start_activation(pending, "p@example.org")
    active = [make_active_student(email=f"a{i}@example.org") for i in range(3)]
    locked = Account.objects.get(student=active[0])
    locked.state = Account.State.LOCKED
    locked.save()
    # One activation 5 days ago.
    Account.objects.filter(student=active[1]).update(activated_at=clock.now() - timedelta(days=5))
    ur.update_request_create(
        student=pending,
        kind=UpdateRequest.Kind.OTHER,
        message="m",
        new=ur.NewValues(),
        contact_email="c@example.org",
        ip=None,
    )

    counts = {row.label: row.count for row in selectors.accounts_per_state()}
    assert counts["Jamais activé (aucun compte)"] == 2
    assert counts["En attente de confirmation"] == 1
    assert counts["Actif"] == 2 and counts["Bloqué"] == 1
    days = selectors.activations_per_day()
    assert len(days) == 30 and days[-1].day == timezone.localdate(clock.now())
    assert days[-1].count == 2 and days[-6].count == 1 and sum(d.count for d in days) == 3

    page = page_text(agent_client.get("/helpdesk/"))
    assert re.search(r"<th scope=\"row\">Actif</th><td class=\"num\">2</td>", page)
    assert re.search(
        r"<th scope=\"row\">Jamais activé \(aucun compte\)</th><td class=\"num\">2</td>", page
    )
    assert '<p class="big-number">1</p>' in page and "1 demande à traiter" in page
    # The chart: an SVG with a title, one bar per day, and the same data as a table.
    svg = re.search(r"<svg[^>]*role=\"img\".*?</svg>", page, re.S)
    assert svg and '<title id="chart-title">' in svg.group(0)
    assert svg.group(0).count('class="bar"') == 30
    # Coordinates are SVG numbers (a dot), whatever the language of the page.
    assert not re.search(r'(x|y|width|height)="[0-9]+,[0-9]', svg.group(0))
    heights = [float(h) for h in re.findall(r'<rect[^>]* height="([0-9.]+)"', svg.group(0))]
    assert heights[-1] == max(heights) > 0 and heights[-6] == pytest.approx(heights[-1] / 2)
    assert "3 comptes activés sur la période" in page
    assert page.count('<td class="num">2</td>') >= 2  # today's row in the table


def test_mail_failure_is_recorded_and_shown(
    agent_client: Client, make_student: Any, settings: Any
) -> None:
    """A relay that is down: the mail is logged, kept as a failure, and the dashboard says so."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    settings.EMAIL_TIMEOUT = 2
    student = make_student()
    start_activation(student, "nomail@example.org")
    failure = MailFailure.objects.get()
    assert failure.to == "nomail@example.org" and failure.template == "activation"
    assert "Connection" in failure.error or "refused" in failure.error.lower()
    page = page_text(agent_client.get("/helpdesk/"))
    assert "1 échec d'envoi ces 7 derniers jours" in page and "nomail@example.org" in page


def test_chart_layout() -> None:
    days = [
        selectors.DayCount(clock.now().date() - timedelta(days=2 - i), n)
        for i, n in enumerate([0, 4, 2])
    ]
    chart = selectors.bar_chart(days, width=300, height=200)
    heights = [b.height for b in chart.bars]
    assert heights[0] == 0 and heights[1] == chart.plot_bottom - chart.plot_top
    assert heights[2] == pytest.approx(heights[1] / 2)
    assert [v for _y, v in chart.ticks] == [0, 1, 2, 3, 4]
