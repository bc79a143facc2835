"""``ent purge``: remove what ENT no longer needs to keep (data minimisation, RGPD art. 5).

- mailed codes whose expiry has passed (used, revoked or not: none can serve any more);
- digests of exchanged OpenID Connect authorization codes once the code would have expired
  (kept until then so that a replay revokes the tokens it produced);
- audit records, finished mails (sent or failed) and decided update requests older than
  ``ENT_AUDIT_RETENTION_MONTHS`` (12 by default);
- the content of a mail that failed for good, a week after it failed (it may hold the code of
  a link; the help desk can no longer retry it then), and the queue's finished task rows after
  a week (they hold only the id of a mail);
- students who never activated (no account, or an account still *pending*) and have been
  absent from the imports for ``ENT_PURGE_ABSENT_DAYS`` days (180 by default): they left the
  university before using ENT. Their pending account and its codes go with them.

``dry_run`` counts the same rows and deletes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django_tasks_db.models import DBTaskResult

from ent.accounts.models import Account, UpdateRequest
from ent.core import clock
from ent.core.audit import Kind, audit_record
from ent.core.models import AuditEvent, MailDelivery, OneTimeCode
from ent.directory.models import Student
from ent.directory.queue import directory_changed
from ent.sso.models import OidcSpentCode


@dataclass(frozen=True)
class PurgeReport:
    """How many rows each category had (to remove, or removed)."""

    codes: int
    oidc_spent_codes: int
    audit_events: int
    mails: int
    mail_contents: int
    mail_tasks: int
    update_requests: int
    students: int
    pending_accounts: int

    def as_dict(self) -> dict[str, int]:
        """The counts by name (for the audit record and the command's output)."""
        return dict(self.__dict__)


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (clamped to the month's end)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    month += 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _students_remove(student_ids: list[int]) -> None:
    """Remove these student records and their pending accounts, in the caller's transaction."""
    # Their directory entries go too (ent.directory.queue: a row without a student).
    directory_changed(
        student_numbers=Student.objects.filter(pk__in=student_ids).values_list(
            "student_number", flat=True
        )
    )
    # The account protects its student record: accounts (and their codes) first.
    Account.objects.filter(student_id__in=student_ids).delete()
    Student.objects.filter(pk__in=student_ids).delete()


def purge(*, dry_run: bool) -> PurgeReport:
    """Remove (or, with ``dry_run``, only count) what the retention settings let go."""
    now = clock.now()
    audit_limit = months_before(now, settings.AUDIT_RETENTION_MONTHS)
    absent_limit = now - timedelta(days=settings.PURGE_ABSENT_DAYS)

    codes = OneTimeCode.objects.filter(expires_at__lte=now)
    spent_codes = OidcSpentCode.objects.filter(expires_at__lte=now)
    events = AuditEvent.objects.filter(at__lt=audit_limit)
    mails = MailDelivery.objects.filter(
        state__in=(
            MailDelivery.State.SENT,
            MailDelivery.State.FAILED,
            MailDelivery.State.WITHDRAWN,
        ),
        created_at__lt=audit_limit,
    )
    week_ago = now - timedelta(days=7)
    contents = MailDelivery.objects.filter(
        state=MailDelivery.State.FAILED, failed_at__lt=week_ago, created_at__gte=audit_limit
    ).filter(Q(payload__isnull=False) | Q(raw__isnull=False))
    tasks = DBTaskResult.objects.filter(
        status__in=("SUCCESSFUL", "FAILED"), finished_at__lt=week_ago
    )
    requests = UpdateRequest.objects.filter(decided_at__lt=audit_limit)
    students = Student.objects.filter(last_seen_in_import_at__lt=absent_limit).filter(
        Q(account__isnull=True) | Q(account__state=Account.State.PENDING)
    )
    pending = Account.objects.filter(student__in=students)

    with transaction.atomic():
        report = PurgeReport(
            codes=codes.count(),
            oidc_spent_codes=spent_codes.count(),
            audit_events=events.count(),
            mails=mails.count(),
            mail_contents=contents.count(),
            mail_tasks=tasks.count(),
            update_requests=requests.count(),
            students=students.count(),
            pending_accounts=pending.count(),
        )
        if dry_run:
            return report
        codes.delete()
        spent_codes.delete()
        events.delete()
        mails.delete()
        contents.update(payload=None, raw=None)
        tasks.delete()
        requests.delete()
        _students_remove(list(students.values_list("pk", flat=True)))
        audit_record(kind=Kind.PURGE_RUN, counts=report.as_dict())
    return report
