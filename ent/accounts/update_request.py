"""The update request journey ("Faire une demande de mise à jour"), top to bottom.

1. An anonymous student gives student number + INE: ``identity.student_identify`` (purpose
   ``UPDATE_REQUEST``), throttled and answered like activation step 1. A signed-in student
   skips it.
2. ``update_request_create``: kind, message, corrected value; a reference number
   (``MAJ-2026-XXXXXX``) and an acknowledgement mail.
3. The help desk: ``update_request_take`` (an agent takes it), then ``update_request_approve``
   (the change is applied: the directory record, or a verification link to the new personal
   address) or ``update_request_reject`` (with a reason). The student is mailed each decision.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ent.core import clock
from ent.core.audit import Kind, audit_record
from ent.core.mail import mail_send
from ent.directory.models import Student

from .models import Account, UpdateRequest

# No 0/O, 1/I/L: a reference is read out over the phone. 31^6 ≈ 887 million per year: with
# the throttled form in front, guessing someone's reference is hopeless, and a reference
# grants nothing anyway (it is only quoted to the help desk).
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REFERENCE_LENGTH = 6


def _new_reference() -> str:
    suffix = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
    return f"MAJ-{clock.now():%Y}-{suffix}"


@dataclass(frozen=True)
class NewValues:
    """The corrected values a request carries (only those of its kind are kept)."""

    first_name: str = ""
    last_name: str = ""
    birth_date: date | None = None
    ine: str = ""
    email: str = ""


def contact_for(
    *, student: Student, kind: UpdateRequest.Kind, given_email: str
) -> tuple[str, bool]:
    """Where to write to the student, and whether ENT verified that address.

    The verified personal address of the account when there is one, except when the request
    says that address is lost: then the address typed in the request, marked unverified.
    """
    account: Account | None = getattr(student, "account", None)
    if (
        kind != UpdateRequest.Kind.LOST_EMAIL
        and account is not None
        and account.personal_email
        and account.personal_email_verified_at is not None
    ):
        return account.personal_email, True
    return given_email, False


# Each request mails an acknowledgement, possibly to an address nobody verified: a cap per
# student keeps the form from being used to flood someone's mailbox.
MAX_REQUESTS_PER_DAY = 3


class TooManyRequestsError(Exception):
    """The student already made ``MAX_REQUESTS_PER_DAY`` requests in the last 24 hours."""


def update_request_create(
    *,
    student: Student,
    kind: UpdateRequest.Kind,
    message: str,
    new: NewValues,
    contact_email: str,
    ip: str | None,
    actor: Account | None = None,
) -> UpdateRequest:
    """Record the request and mail the acknowledgement with its reference."""
    recent = UpdateRequest.objects.filter(
        student=student, created_at__gte=clock.now() - timedelta(hours=24)
    ).count()
    if recent >= MAX_REQUESTS_PER_DAY:
        raise TooManyRequestsError
    address, verified = contact_for(student=student, kind=kind, given_email=contact_email)
    if not address:
        raise ValueError("a contact address is needed when the account has no verified one")
    now = clock.now()
    by_kind: dict[str, dict[str, Any]] = {
        UpdateRequest.Kind.NAME: {
            "new_first_name": new.first_name,
            "new_last_name": new.last_name,
        },
        UpdateRequest.Kind.BIRTH_DATE: {"new_birth_date": new.birth_date},
        UpdateRequest.Kind.INE: {"new_ine": new.ine},
        UpdateRequest.Kind.LOST_EMAIL: {"new_email": new.email},
        UpdateRequest.Kind.OTHER: {},
    }
    fields = by_kind[kind]
    for _attempt in range(5):
        try:
            with transaction.atomic():
                request = UpdateRequest.objects.create(
                    reference=_new_reference(),
                    student=student,
                    kind=kind,
                    message=message[: UpdateRequest.MESSAGE_MAX_LENGTH],
                    contact_email=address,
                    contact_verified=verified,
                    created_at=now,
                    updated_at=now,
                    **fields,
                )
                audit_record(
                    kind=Kind.UPDATE_REQUEST_CREATED,
                    student=student,
                    actor=actor,
                    ip=ip,
                    reference=request.reference,
                    request_kind=kind.value,
                )
                _mail(request, "update_request_received")
                if kind == UpdateRequest.Kind.LOST_EMAIL:
                    _alert_current_address(request, approved=False)
            return request
        except IntegrityError:
            continue  # the same reference drawn twice: draw again
    raise RuntimeError("could not draw a free update request reference")


def _mail(request: UpdateRequest, template: str) -> None:
    mail_send(
        to=request.contact_email,
        template=template,
        context={
            "full_name": request.student.full_name,
            "reference": request.reference,
            "kind": request.get_kind_display(),
            "reason": request.decision_reason,
            "contact_verified": request.contact_verified,
        },
    )


def _alert_current_address(request: UpdateRequest, *, approved: bool) -> None:
    """Warn the account's verified personal address that someone asks to replace it.

    Student number + INE are enough to file a lost-address request, and the INE is not a
    secret: if the student still reads that address, they learn of a takeover attempt in
    time to stop it (at filing, and again at approval, before the new address is verified).
    """
    account = Account.objects.filter(student=request.student).first()
    if account is None or not account.personal_email or account.personal_email_verified_at is None:
        return
    mail_send(
        to=account.personal_email,
        template="update_request_address_alert",
        context={
            "full_name": request.student.full_name,
            "reference": request.reference,
            "approved": approved,
        },
    )


class DecisionError(Exception):
    """The request cannot take this decision (already decided, nothing to apply…)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _open_for_update(pk: int) -> UpdateRequest:
    request = (
        UpdateRequest.objects.select_for_update(of=("self",)).select_related("student").get(pk=pk)
    )
    if not request.is_open:
        raise DecisionError(_("Cette demande a déjà été traitée."))
    return request


def update_request_take(*, request: UpdateRequest, actor: Account, ip: str | None) -> None:
    """An agent takes the request (or takes it over from a colleague)."""
    with transaction.atomic():
        locked = _open_for_update(request.pk)
        locked.status = UpdateRequest.Status.IN_PROGRESS
        locked.assigned_to = actor
        locked.updated_at = clock.now()
        locked.save(update_fields=["status", "assigned_to", "updated_at"])
        audit_record(
            kind=Kind.UPDATE_REQUEST_TAKEN,
            student=locked.student,
            actor=actor,
            ip=ip,
            reference=locked.reference,
        )


def _apply(
    request: UpdateRequest, *, actor: Account, ip: str | None, identity_checked: bool
) -> None:
    """Make the change the request asked for (inside the decision's transaction)."""
    if request.kind == UpdateRequest.Kind.LOST_EMAIL:
        _apply_lost_email(request, actor=actor, ip=ip, identity_checked=identity_checked)
        return
    student = request.student
    _keep_old_values(request, student)
    changed = _correct(request, student)
    if changed:
        student.updated_at = clock.now()
        student.save()
        audit_record(
            kind=Kind.DIRECTORY_CORRECTED,
            student=student,
            actor=actor,
            ip=ip,
            reference=request.reference,
            fields=changed,
        )


def _keep_old_values(request: UpdateRequest, student: Student) -> None:
    """The values before, kept on the request (saved by the caller with the decision) for the
    fields of its kind only: the request page shows before and after once the student's
    record holds the new values."""
    if request.kind == UpdateRequest.Kind.NAME:
        request.old_first_name, request.old_last_name = student.first_name, student.last_name
    elif request.kind == UpdateRequest.Kind.BIRTH_DATE:
        request.old_birth_date = student.birth_date
    elif request.kind == UpdateRequest.Kind.INE:
        request.old_ine = student.ine


def _correct(request: UpdateRequest, student: Student) -> dict[str, list[str]]:
    """Copy the request's new values into ``student`` (not saved); the fields changed, each
    with its value before and after."""
    changed: dict[str, list[str]] = {}
    if request.kind == UpdateRequest.Kind.NAME:
        for field, value in (
            ("first_name", request.new_first_name),
            ("last_name", request.new_last_name),
        ):
            if value and value != getattr(student, field):
                changed[field] = [getattr(student, field), value]
                setattr(student, field, value)
    elif request.kind == UpdateRequest.Kind.BIRTH_DATE and request.new_birth_date:
        if request.new_birth_date != student.birth_date:
            changed["birth_date"] = [
                student.birth_date.isoformat(),
                request.new_birth_date.isoformat(),
            ]
            student.birth_date = request.new_birth_date
    elif request.kind == UpdateRequest.Kind.INE and request.new_ine:
        if Student.objects.filter(ine=request.new_ine).exclude(pk=student.pk).exists():
            raise DecisionError(_("Ce code INE est déjà celui d'un autre étudiant."))
        if request.new_ine != student.ine:
            changed["ine"] = [student.ine, request.new_ine]
            student.ine = request.new_ine
    return changed


def _apply_lost_email(
    request: UpdateRequest, *, actor: Account, ip: str | None, identity_checked: bool
) -> None:
    """A lost personal address: mail a verification link to the new one (the address becomes
    the account's only once the student follows it), after warning the current one."""
    account = Account.objects.filter(student=request.student).first()
    if account is None or account.state != Account.State.ACTIVE or not request.new_email:
        raise DecisionError(
            _(
                "Ce compte n'est pas actif : l'étudiant doit d'abord activer son compte avec la nouvelle adresse."
            )
        )
    # Owned by the self-service journey.
    from .email_change import email_change_start

    if not identity_checked:
        raise DecisionError(
            _("Vérifiez l'identité de l'étudiant et cochez la case avant d'accepter.")
        )
    _alert_current_address(request, approved=True)
    try:
        email_change_start(account=account, new_email=request.new_email, actor=actor, ip=ip)
    except ValidationError:
        raise DecisionError(
            _("Cette adresse ne peut pas être une adresse personnelle : refusez la demande.")
        ) from None


def _decide(
    *,
    request: UpdateRequest,
    status: UpdateRequest.Status,
    reason: str,
    actor: Account,
    ip: str | None,
    identity_checked: bool = False,
) -> UpdateRequest:
    with transaction.atomic():
        locked = _open_for_update(request.pk)
        if status == UpdateRequest.Status.APPROVED:
            _apply(locked, actor=actor, ip=ip, identity_checked=identity_checked)
        extra: dict[str, Any] = {}
        if status == UpdateRequest.Status.APPROVED and locked.kind == UpdateRequest.Kind.LOST_EMAIL:
            extra["identity_checked"] = True
        now = clock.now()
        locked.status = status
        locked.assigned_to = actor
        locked.decision_reason = reason
        locked.decided_at = now
        locked.updated_at = now
        locked.save()
        audit_record(
            kind=Kind.UPDATE_REQUEST_APPROVED
            if status == UpdateRequest.Status.APPROVED
            else Kind.UPDATE_REQUEST_REJECTED,
            student=locked.student,
            actor=actor,
            ip=ip,
            reference=locked.reference,
            **extra,
        )
        _mail(
            locked,
            "update_request_approved"
            if status == UpdateRequest.Status.APPROVED
            else "update_request_rejected",
        )
    return locked


def update_request_approve(
    *,
    request: UpdateRequest,
    reason: str,
    actor: Account,
    ip: str | None,
    identity_checked: bool = False,
) -> UpdateRequest:
    """Accept the request, apply the change and mail the student.

    A lost-address request hands the account to whoever wrote it, so it is only approved once
    the agent says they checked the student's identity (``identity_checked``, audited).
    """
    return _decide(
        request=request,
        status=UpdateRequest.Status.APPROVED,
        reason=reason,
        actor=actor,
        ip=ip,
        identity_checked=identity_checked,
    )


def update_request_reject(
    *, request: UpdateRequest, reason: str, actor: Account, ip: str | None
) -> UpdateRequest:
    """Refuse the request with a reason (required) and mail the student."""
    if not reason.strip():
        raise DecisionError(_("Indiquez le motif du refus : il est envoyé à l'étudiant."))
    return _decide(
        request=request, status=UpdateRequest.Status.REJECTED, reason=reason, actor=actor, ip=ip
    )
