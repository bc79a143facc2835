"""``ent purge``: what it removes, and that ``--dry-run`` removes nothing."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from ent.accounts.models import Account
from ent.core import clock
from ent.core.audit import Kind, audit_record
from ent.core.models import AuditEvent, MailDelivery, OneTimeCode
from ent.directory.models import Student
from ent.helpdesk.purge import months_before
from tests.conftest import start_activation

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("purge", *args, stdout=out)
    return out.getvalue()


def scenario(make_student: Any, make_active_student: Any, settings: Any) -> dict[str, Any]:
    now = clock.now()
    gone = now - timedelta(days=settings.PURGE_ABSENT_DAYS + 1)
    departed_never = make_student()
    departed_pending = make_student()
    start_activation(departed_pending, "pending@example.org")
    departed_active = make_active_student(email="active@example.org")
    recent_never = make_student()
    Student.objects.filter(
        pk__in=[departed_never.pk, departed_pending.pk, departed_active.pk]
    ).update(last_seen_in_import_at=gone)
    old = audit_record(kind=Kind.LOGOUT, student=recent_never)
    AuditEvent.objects.filter(pk=old.pk).update(
        at=now - timedelta(days=31 * settings.AUDIT_RETENTION_MONTHS + 1)
    )
    for n, (created, state) in enumerate(
        [
            (now - timedelta(days=400), MailDelivery.State.FAILED),  # removed
            (now, MailDelivery.State.SENT),  # kept
            (now - timedelta(days=10), MailDelivery.State.FAILED),  # kept, its content cleared
        ]
    ):
        MailDelivery.objects.create(
            key=f"k{n}",
            created_at=created,
            failed_at=created if state == MailDelivery.State.FAILED else None,
            state=state,
            to="x@example.org",
            template="t",
            sender="noreply@example.org",
            payload={"body": "code=SECRET"} if state == MailDelivery.State.FAILED else None,
        )
    # The queue's task rows: finished more than a week ago, they go.
    DBTaskResult.objects.update(finished_at=now - timedelta(days=8))
    # The activation codes of the active student: used; make one expired.
    OneTimeCode.objects.filter(account__student=departed_active).update(
        expires_at=now - timedelta(minutes=1)
    )
    return {
        "departed_never": departed_never,
        "departed_pending": departed_pending,
        "departed_active": departed_active,
        "recent_never": recent_never,
        "old_event": old,
    }


def test_dry_run_then_real(make_student: Any, make_active_student: Any, settings: Any) -> None:
    s = scenario(make_student, make_active_student, settings)
    counts_before = (
        Student.objects.count(),
        Account.objects.count(),
        AuditEvent.objects.count(),
        OneTimeCode.objects.count(),
        MailDelivery.objects.count(),
    )

    out = run("--dry-run")
    assert "would remove" in out
    assert "students: 2" in out and "pending accounts: 1" in out
    assert "audit events: 1" in out and "mails: 1" in out and "codes: 1" in out
    assert "mail contents: 1" in out and "mail tasks: 2" in out
    assert (
        Student.objects.count(),
        Account.objects.count(),
        AuditEvent.objects.count(),
        OneTimeCode.objects.count(),
        MailDelivery.objects.count(),
    ) == counts_before

    out = run()
    assert "removed" in out and "students: 2" in out
    remaining = set(Student.objects.values_list("pk", flat=True))
    assert s["departed_never"].pk not in remaining and s["departed_pending"].pk not in remaining
    assert s["departed_active"].pk in remaining  # an activated account is never purged
    assert s["recent_never"].pk in remaining  # still in the imports
    assert not AuditEvent.objects.filter(pk=s["old_event"].pk).exists()
    assert MailDelivery.objects.count() == counts_before[-1] - 1  # the 400-day-old one
    assert not MailDelivery.objects.filter(payload__isnull=False).exists()
    assert not DBTaskResult.objects.exists()
    assert not OneTimeCode.objects.filter(expires_at__lte=clock.now()).exists()
    assert AuditEvent.objects.filter(kind=Kind.PURGE_RUN).exists()

    out = run()  # nothing left to do
    assert "students: 0" in out and "audit events: 0" in out


def test_months_before() -> None:
    tz = clock.now().tzinfo
    assert months_before(datetime(2026, 3, 31, 12, tzinfo=tz), 1) == datetime(
        2026, 2, 28, 12, tzinfo=tz
    )
    assert months_before(datetime(2026, 1, 15, tzinfo=tz), 12) == datetime(2025, 1, 15, tzinfo=tz)
    assert months_before(datetime(2026, 1, 15, tzinfo=tz), 13) == datetime(2024, 12, 15, tzinfo=tz)
