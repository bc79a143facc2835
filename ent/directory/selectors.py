"""What the help desk and ``/metrics`` read of the directory writer's queue (``queue``): one
student's entry (in step, waiting, refused) and the queue's gauges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _

from ent.core.workers import Gauge

from .ldap_entry import dn_of
from .models import DirectoryEntry, Student
from .queue import directory_stats


class DirectoryState(models.TextChoices):
    """Where a student's directory entry stands."""

    # No change queued yet (a student imported before ``ENT_LDAP_URL`` was set, say): the entry
    # waits for its first write, by the next change or ``ent directory-sync``.
    NOT_WRITTEN = "not_written", _("Jamais écrite")
    IN_STEP = "in_step", _("À jour")
    # Waiting to be written; ``last_error`` says why when the directory could not be reached.
    WAITING = "waiting", _("En attente")
    # The directory refused the entry (``attempts`` times); it is tried again later.
    ERROR = "error", _("Erreur")


@dataclass(frozen=True)
class DirectoryStatus:
    """One student's directory entry as the help desk sees it (``DirectoryEntry``)."""

    state: DirectoryState
    dn: str = ""
    changed_at: datetime | None = None
    applied_at: datetime | None = None
    attempts: int = 0
    last_error: str = ""
    next_attempt_at: datetime | None = None


def directory_status(student: Student) -> DirectoryStatus:
    """The state of ``student``'s directory entry (one query)."""
    row = DirectoryEntry.objects.filter(student_number=student.student_number).first()
    if row is None:
        return DirectoryStatus(state=DirectoryState.NOT_WRITTEN)
    if not row.pending:
        state = DirectoryState.IN_STEP
    elif row.attempts:
        state = DirectoryState.ERROR
    else:
        state = DirectoryState.WAITING
    return DirectoryStatus(
        state=state,
        # Never written yet (or refused): the DN it will have.
        dn=row.dn or dn_of(student),
        changed_at=row.changed_at,
        applied_at=row.applied_at,
        attempts=row.attempts,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
    )


def directory_gauges() -> list[Gauge]:
    """The queue's figures for ``/metrics`` (registered in ``apps``; one query)."""
    stats = directory_stats()
    return [
        Gauge(
            "ent_directory_changes_waiting",
            "Directory changes waiting to be written (refused entries included)",
            stats.waiting,
        ),
        Gauge(
            "ent_directory_entries_error",
            "Directory entries the directory refused (retried later)",
            stats.errors,
        ),
        Gauge(
            "ent_directory_oldest_waiting_seconds",
            "Age of the oldest directory change waiting to be written (0 when none waits)",
            stats.oldest_seconds,
        ),
    ]
