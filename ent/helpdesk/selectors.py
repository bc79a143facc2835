"""What the help desk reads: student search, account pages, dashboard figures, the chart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from ent.accounts.models import Account, UpdateRequest
from ent.core import clock, throttle
from ent.core.models import AuditEvent, MailDelivery, OneTimeCode
from ent.directory.models import Student

CHART_DAYS = 30


def students_search(query: str) -> QuerySet[Student]:
    """Students matching a number, an INE, an address (institutional or personal) or names.

    Identifiers and addresses match exactly (case-insensitive); names match by word, so
    "pascal blaise" finds Blaise Pascal.
    """
    query = " ".join(query.split())[:200]
    qs = Student.objects.select_related("account").order_by("last_name", "first_name", "pk")
    if not query:
        return qs.none()
    exact = (
        Q(student_number__iexact=query)
        | Q(ine__iexact=query.replace(" ", ""))
        | Q(institutional_email__iexact=query)
        | Q(account__personal_email__iexact=query)
    )
    words = Q()
    for word in query.split()[:5]:
        words &= Q(last_name__icontains=word) | Q(first_name__icontains=word)
    return qs.filter(exact | words)


def pending_codes(account: Account) -> QuerySet[OneTimeCode]:
    """Codes of the account that could still be used (never the codes: they are not stored)."""
    return OneTimeCode.objects.filter(
        account=account, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=clock.now()
    ).order_by("-created_at")


def open_requests() -> QuerySet[UpdateRequest]:
    """Update requests waiting for a decision."""
    return UpdateRequest.objects.filter(
        status__in=[UpdateRequest.Status.NEW, UpdateRequest.Status.IN_PROGRESS]
    )


@dataclass(frozen=True)
class StateCount:
    """One row of the "accounts per state" table."""

    label: str
    count: int


def accounts_per_state() -> list[StateCount]:
    """Student accounts per state, and students who never started activation."""
    counts = dict(
        Account.objects.filter(kind=Account.Kind.STUDENT)
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    rows = [StateCount(str(label), counts.get(value, 0)) for value, label in Account.State.choices]
    never = Student.objects.filter(account__isnull=True).count()
    return [StateCount(_("Jamais activé (aucun compte)"), never), *rows]


@dataclass(frozen=True)
class DayCount:
    """Activations of one day."""

    day: date
    count: int


def activations_per_day(days: int = CHART_DAYS) -> list[DayCount]:
    """Accounts activated on each of the last ``days`` days (local dates, today included)."""
    today = timezone.localdate(clock.now())
    first = today - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(first, time.min))
    counts: dict[date, int] = {}
    # Bucketed here rather than with TruncDate: the same code on SQLite and PostgreSQL, and a
    # month of activations is a few thousand timestamps at most.
    for at in Account.objects.filter(
        kind=Account.Kind.STUDENT, activated_at__gte=since
    ).values_list("activated_at", flat=True):
        if at is not None:
            day = timezone.localdate(at)
            counts[day] = counts.get(day, 0) + 1
    return [
        DayCount(first + timedelta(days=i), counts.get(first + timedelta(days=i), 0))
        for i in range(days)
    ]


def failed_mails(limit: int = 20) -> QuerySet[MailDelivery]:
    """The latest mails that failed for good (the dashboard lists them with a retry button)."""
    return MailDelivery.objects.filter(state=MailDelivery.State.FAILED).order_by(
        "-failed_at", "-id"
    )[:limit]


def mail_failures_since(days: int = 7) -> int:
    """How many mails failed for good in the last ``days`` days."""
    return MailDelivery.objects.filter(
        state=MailDelivery.State.FAILED, failed_at__gte=clock.now() - timedelta(days=days)
    ).count()


def retrying_mails() -> int:
    """Mails whose last attempt failed and that wait for their next one."""
    return MailDelivery.objects.filter(state=MailDelivery.State.RETRYING).count()


@dataclass(frozen=True)
class Bar:
    """One bar of the chart, in SVG user units."""

    x: float
    y: float
    width: float
    height: float
    day: date
    count: int
    label_day: bool

    @property
    def center(self) -> float:
        """Where the day's label goes."""
        return round(self.x + self.width / 2, 2)


@dataclass(frozen=True)
class Chart:
    """A server-rendered bar chart (no JavaScript, no canvas): geometry for the template."""

    width: int
    height: int
    plot_top: int
    plot_bottom: int
    left: int
    max_count: int
    bars: list[Bar]
    ticks: list[tuple[float, int]]


def bar_chart(days: list[DayCount], *, width: int = 720, height: int = 240) -> Chart:
    """Lay out the bars; the y axis gets up to four round ticks."""
    left, right, top, bottom = 40, 24, 10, 30
    plot_h = height - top - bottom
    max_count = max([d.count for d in days] + [1])
    step_x = (width - left - right) / max(len(days), 1)
    bars = []
    for i, d in enumerate(days):
        h = plot_h * d.count / max_count
        bars.append(
            Bar(
                x=round(left + i * step_x + step_x * 0.15, 2),
                y=round(top + plot_h - h, 2),
                width=round(step_x * 0.7, 2),
                height=round(h, 2),
                day=d.day,
                count=d.count,
                label_day=(len(days) - 1 - i) % 7 == 0,
            )
        )
    tick_step = max(1, -(-max_count // 4))
    ticks = [
        (round(top + plot_h - plot_h * v / max_count, 2), v)
        for v in range(0, max_count + 1, tick_step)
    ]
    return Chart(width, height, top, top + plot_h, left, max_count, bars, ticks)


@dataclass(frozen=True)
class SignInBlock:
    """A side of an account's sign-in that its throttling blocks now (issue 13 §3).

    ``device`` is None for the account's untrusted clients (browsers without its device
    cookie), else the id of a device cookie; ``revoked``: that cookie reached its cap.
    """

    device: str | None
    until: datetime | None
    revoked: bool = False


def sign_in_blocks(student: Student) -> list[SignInBlock]:
    """Which sides of the student's password sign-in are blocked, and until when.

    Device ids come from the audit records of failed sign-ins (``ent.sso.devices`` stores
    nothing else), over a cookie's lifetime.
    """
    since = clock.now() - timedelta(days=settings.DEVICE_COOKIE_DAYS)
    device_ids = sorted(
        {
            str(data["device"])
            for data in AuditEvent.objects.filter(
                student=student,
                kind=AuditEvent.Kind.LOGIN_FAILED,
                at__gte=since,
                data__has_key="device",
            ).values_list("data", flat=True)
        }
    )
    pairs = [(throttle.policy("password"), student.student_number)] + [
        (throttle.policy("device"), device) for device in device_ids
    ]
    reading = throttle.read(*pairs, count=False)
    blocks = []
    for i, device in enumerate([None, *device_ids]):
        revoked = device is not None and reading.exhausted[i]
        if reading.blocked[i] is not None or revoked:
            blocks.append(SignInBlock(device, None if revoked else reading.blocked[i], revoked))
    return blocks
