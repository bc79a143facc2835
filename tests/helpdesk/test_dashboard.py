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
from ent.core.models import AuditEvent, MailDelivery
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
    # Two drawings of it: a wide one, and a narrow one for phones (tests/e2e/test_helpdesk_layout.py).
    svg = re.search(r"<svg[^>]*role=\"img\".*?</svg>", page, re.S)
    assert svg and '<title id="chart-title-wide">' in svg.group(0)
    narrow = re.search(r"<svg viewBox=\"0 0 340 220\"[^>]*role=\"img\".*?</svg>", page, re.S)
    assert narrow and '<title id="chart-title-narrow">' in narrow.group(0)
    assert narrow.group(0).count('class="bar"') == 30
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
    """A relay that is down: the attempt is logged, and once the attempts are used up the mail
    is "failed" and the dashboard lists it with a retry button."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    settings.EMAIL_TIMEOUT = 2
    settings.MAIL_MAX_ATTEMPTS = 1
    student = make_student()
    start_activation(student, "nomail@example.org")
    failure = MailDelivery.objects.get()
    assert failure.state == MailDelivery.State.FAILED and failure.attempts == 1
    assert failure.to == "nomail@example.org" and failure.template == "activation"
    assert "Connection" in failure.last_error or "refused" in failure.last_error.lower()
    assert failure.payload is not None  # kept for the retry
    page = page_text(agent_client.get("/helpdesk/"))
    assert "1 échec d'envoi ces 7 derniers jours" in page and "nomail@example.org" in page
    assert f'action="/helpdesk/mail/{failure.pk}/retry"' in page


def test_mail_still_retrying_is_counted_not_listed(
    agent_client: Client, make_student: Any, settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    settings.EMAIL_TIMEOUT = 2
    start_activation(make_student(), "later@example.org")
    delivery = MailDelivery.objects.get()
    assert delivery.state == MailDelivery.State.RETRYING and delivery.next_attempt_at
    page = page_text(agent_client.get("/helpdesk/"))
    assert "0 échec d'envoi" in page  # French: singular for 0 (tests/test_i18n.py)
    assert "1 mail dans la file d'envoi, dont 1 en attente d'un nouvel essai" in page


def test_retry_button_sends_the_failed_mail_and_is_audited(
    agent_client: Client, make_student: Any, settings: Any, request: pytest.FixtureRequest
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    settings.EMAIL_TIMEOUT = 2
    settings.MAIL_MAX_ATTEMPTS = 1
    start_activation(make_student(first_name="Ada"), "ada@example.org")
    failure = MailDelivery.objects.get()
    assert failure.state == MailDelivery.State.FAILED
    assert agent_client.get(f"/helpdesk/mail/{failure.pk}/retry").status_code == 405
    smtp = request.getfixturevalue("smtp_server")  # the relay is back
    response = agent_client.post(f"/helpdesk/mail/{failure.pk}/retry", follow=True)
    assert "Le mail est de nouveau dans la file d'envoi." in page_text(response)
    received = smtp.wait_for(1)
    assert received[0]["To"] == "ada@example.org"
    assert received[0]["Message-ID"] == failure.message_id
    failure.refresh_from_db()
    assert failure.state == MailDelivery.State.SENT and failure.payload is None
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.MAIL_RETRIED)
    assert event.actor == agent_client.staff  # type: ignore[attr-defined]
    assert event.data["to"] == "ada@example.org" and event.data["attempts"] == 1
    # Sent: a second press changes nothing and says why.
    response = agent_client.post(f"/helpdesk/mail/{failure.pk}/retry", follow=True)
    assert "ne peut pas être renvoyé" in page_text(response)
    assert len(smtp.messages) == 1


def test_retry_needs_staff(client: Client, active_student: Any) -> None:
    response = client.post("/helpdesk/mail/1/retry")
    assert response.status_code == 302 and "/helpdesk/login" in response["Location"]


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
