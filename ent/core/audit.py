"""Writing the audit log. Call inside the transaction of the change being recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import clock
from .fastsql import insert
from .models import AuditEvent

if TYPE_CHECKING:
    from ent.accounts.models import Account
    from ent.directory.models import Student

Kind = AuditEvent.Kind


def audit_record(
    *,
    kind: AuditEvent.Kind,
    student: Student | None = None,
    actor: Account | None = None,
    ip: str | None = None,
    **data: Any,
) -> AuditEvent:
    """Record one event. ``data`` holds identifiers and reasons, never a secret."""
    event = AuditEvent(
        at=clock.now(), kind=kind, student=student, actor=actor, ip=ip or None, data=data
    )
    insert(event)  # every sign-in writes one: the statement is built once (ent.core.fastsql)
    return event
