"""Signed-in changes that need the password again: change the password, prove it is you.

``password_verify`` checks the current password typed again (before a password or address
change). A wrong one counts in the same throttling as a wrong password at login from an
untrusted client (the ``password`` action of ``throttle.ACTIONS``): it is the same secret, guessed through
another door.

``password_change`` sets the new password, ends every other session of the account and tells
the personal address.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ent.core import throttle
from ent.core.audit import Kind, audit_record
from ent.core.messages import retry_message

from .models import Account
from .password_reset import mail_password_changed, new_password_problems
from .sessions import sessions_end


class WrongPasswordError(Exception):
    """The current password typed again is wrong; ``retry_at`` is set once throttled."""

    def __init__(self, retry_at: datetime | None = None) -> None:
        super().__init__(retry_at)
        self.retry_at = retry_at

    def message(self) -> str:
        """What the form says on the password field."""
        if self.retry_at is not None:
            return retry_message(self.retry_at)
        return _("Mot de passe incorrect.")


def password_verify(*, account: Account, password: str, ip: str | None) -> None:
    """Raise ``WrongPasswordError`` unless ``password`` is the account's current password."""
    key = account.username
    blocked = throttle.blocked("password", key, ip=ip)
    if blocked is not None:
        raise WrongPasswordError(blocked)
    if account.check_password(password):
        throttle.success(throttle.policy("password"), key)
        return
    with transaction.atomic():
        retry = throttle.failed("password", key, ip=ip)
        audit_record(kind=Kind.PASSWORD_CHECK_FAILED, student=account.student, actor=account, ip=ip)
    raise WrongPasswordError(retry)


def password_change(
    *,
    account: Account,
    current_password: str,
    new_password: str,
    ip: str | None,
    keep_session_key: str | None,
) -> int:
    """Change the password of a signed-in account; returns how many other sessions ended.

    Raises ``WrongPasswordError`` for a wrong current password, ``ValidationError`` (messages
    for the form) when the new one breaks the policy or equals the current one. The session
    ``keep_session_key`` (the one making the change) stays open; every other one ends.
    """
    password_verify(account=account, password=current_password, ip=ip)
    problems = new_password_problems(account, new_password)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        account = (
            Account.objects.select_for_update(of=("self",))
            .select_related("student")
            .get(pk=account.pk)
        )
        account.set_password(new_password)
        account.save(update_fields=["password"])
        ended = sessions_end(account=account, keep_key=keep_session_key)
        audit_record(
            kind=Kind.PASSWORD_CHANGED,
            student=account.student,
            actor=account,
            ip=ip,
            sessions_ended=ended,
        )
        mail_password_changed(account=account, ip=ip, how="change")
    return ended
