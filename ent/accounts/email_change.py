"""Changing the personal address, top to bottom.

1. ``email_change_start``: a verification link goes to the NEW address
   (``link_url``: ``BASE_URL/account/email/confirm?code=…``). Nothing changes yet: the reset links keep going
   to the old, verified address until the new one is proved. The student calls it from the
   profile (after typing the password again); the help desk calls it when it approves an
   address-change request.
2. ``email_change_confirm``: the link switches the address, marks it verified, and tells the
   OLD address, so a hijacked session cannot quietly take the account's recovery channel.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import transaction
from django.utils.translation import gettext as _

from ent.core import clock
from ent.core.audit import Kind, audit_record
from ent.core.codes import (
    CodeStatus,
    code_check,
    code_consume,
    code_issue,
    link_cap_reached,
    link_mail,
)
from ent.core.mail import mail_send
from ent.core.messages import mask_email
from ent.core.models import OneTimeCode

from .models import Account


def normalise_email(raw: str) -> str:
    """Spaces removed, the domain in lower case; ``ValidationError`` if it is no address.

    Refuses the university's own student domain: the personal address is how a student gets
    back in when the university account is out of reach.
    """
    address = "".join(raw.split())
    try:
        EmailValidator()(address)
    except ValidationError:
        raise ValidationError(
            _("Adresse mail invalide : elle doit avoir la forme nom@exemple.fr.")
        ) from None
    local, _at, domain = address.rpartition("@")
    domain = domain.lower()
    student_domain = settings.STUDENT_MAIL_DOMAIN
    if domain == student_domain or domain.endswith("." + student_domain):
        raise ValidationError(
            _("Donnez une adresse personnelle, pas votre adresse de l'université.")
        )
    return f"{local}@{domain}"


class TooManyRequestsError(Exception):
    """The student asked for too many verification links in the last hour."""


def email_change_start(
    *, account: Account, new_email: str, actor: Account | None, ip: str | None
) -> None:
    """Mail a verification link to ``new_email``; the address is used only once verified.

    A newer request revokes the previous link. ``actor`` is the staff member when the help
    desk starts it, the account itself or None when the student does. Raises
    ``ValidationError`` for an address that cannot be a personal one, and
    ``TooManyRequestsError`` after ``EMAIL_CHANGE_LINKS_PER_HOUR`` student requests in an hour
    (each link goes to an address they typed: without a limit the form would mail anyone, over
    and over). The help desk is not limited.
    """
    address = normalise_email(new_email)
    by_helpdesk = actor is not None and actor.pk != account.pk
    with transaction.atomic():
        account = (
            Account.objects.select_for_update(of=("self",))
            .select_related("student")
            .get(pk=account.pk)
        )
        if not by_helpdesk and link_cap_reached(
            account=account, purpose=OneTimeCode.Purpose.EMAIL_CHANGE
        ):
            raise TooManyRequestsError
        row, code = code_issue(
            purpose=OneTimeCode.Purpose.EMAIL_CHANGE, account=account, email=address
        )
        audit_record(
            kind=Kind.EMAIL_CHANGE_REQUESTED,
            student=account.student,
            actor=actor,
            ip=ip,
            new_email=mask_email(address),
            by="helpdesk" if by_helpdesk else "student",
        )
        link_mail(row, code, to=address, context={"full_name": account.display_name})


def email_change_code_status(code: str, *, ip: str | None) -> CodeStatus | None:
    """What the page with the button should say: None when the link can be used.

    Throttled per client address like the confirmation (``code_check``): the page answers
    whether a guessed code exists.
    """
    status, _row = code_check(purpose=OneTimeCode.Purpose.EMAIL_CHANGE, code=code, ip=ip)
    return None if status is CodeStatus.VALID else status


def email_change_confirm(*, code: str, ip: str | None) -> CodeStatus:
    """Switch to the verified new address, once, and notify the old one."""
    status, row = code_check(
        purpose=OneTimeCode.Purpose.EMAIL_CHANGE,
        code=code,
        ip=ip,
        rejected_kind=Kind.EMAIL_CHANGE_CODE_REJECTED,
    )
    if status is not CodeStatus.VALID or row is None:
        return status
    if row.account.state != Account.State.ACTIVE:
        return CodeStatus.INACTIVE
    with transaction.atomic():
        account = (
            Account.objects.select_for_update(of=("self",))
            .select_related("student")
            .get(pk=row.account_id)
        )
        # Checked again under the row lock: a lock by the help desk may have just committed.
        if account.state != Account.State.ACTIVE:
            return CodeStatus.INACTIVE
        if not code_consume(row):
            return CodeStatus.USED
        old = account.personal_email
        account.personal_email = row.email
        account.personal_email_verified_at = clock.now()
        account.save(update_fields=["personal_email", "personal_email_verified_at"])
        # A reset link already on its way to the old address must not outlive the change.
        OneTimeCode.objects.filter(
            account=account,
            purpose=OneTimeCode.Purpose.PASSWORD_RESET,
            used_at__isnull=True,
            revoked_at__isnull=True,
        ).update(revoked_at=clock.now())
        audit_record(
            kind=Kind.EMAIL_CHANGED,
            student=account.student,
            ip=ip,
            old_email=mask_email(old) if old else "",
            new_email=mask_email(row.email),
        )
        if old and old.lower() != row.email.lower():
            mail_send(
                to=old,
                template="email_changed",
                context={
                    "full_name": account.display_name,
                    "username": account.username,
                    "new_email": mask_email(row.email),
                    "when": clock.now(),
                    "ip": ip or "",
                },
            )
    return CodeStatus.DONE
