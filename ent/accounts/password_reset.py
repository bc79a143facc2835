"""The forgotten-password journey ("J'ai oublié mon mot de passe"), top to bottom.

1. ``password_reset_request``: the public form. The student gives the student number or the
   institutional address; when the account is active with a verified personal address, a link
   ``BASE_URL/password/reset/confirm?code=…`` goes there. The answer is the same, in the same
   time, whatever the account (unknown, pending, locked, disabled, no verified address): every
   branch does the same work (the mail is only queued, ``ent worker`` sends it; a branch with
   no mail writes and rolls back the same rows, ``mail_pretend``).
   ``password_reset_send`` is the help desk's "send a reset link" button.
2. ``password_reset_code_status``: can the link still be used (for the page with the form)?
3. ``password_reset_confirm``: new password under the policy (and not the current one); every
   session of the account ends; a notification mail goes to the personal address. No login.

Requests are limited per identifier and per client address in their own throttling scopes:
asking for links never counts as a failed login, so it never locks an account.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from ent.core import clock, throttle
from ent.core.audit import Kind, audit_record
from ent.core.codes import (
    CODE_ALPHABET,
    CODE_LENGTH,
    CodeStatus,
    code_check,
    code_consume,
    code_hash,
    code_issue,
    link_cap_reached,
    link_mail,
    link_url,
)
from ent.core.mail import mail_pretend, mail_send
from ent.core.models import OneTimeCode

from . import password_policy
from .models import Account
from .sessions import sessions_end

# The public request never answers faster than this. Both branches already do the same work
# and the mail leaves from a thread, but an INSERT and a thread competing for the interpreter
# still cost a millisecond or two, which enough samples would reveal; the floor hides them.
REQUEST_MIN_SECONDS = 0.08


class ResetThrottledError(Exception):
    """Too many requests for this identifier or from this address; ``retry_at`` says until."""

    def __init__(self, retry_at: datetime) -> None:
        super().__init__(retry_at)
        self.retry_at = retry_at


def normalise_identifier(raw: str) -> str:
    """A student number as typed without spaces; an address in lower case."""
    value = "".join(raw.split())
    return value.lower() if "@" in value else value


def _find_account(identifier: str) -> Account | None:
    if not identifier:
        return None
    # Students only: a staff account (which may have verified an address at /account/email/
    # before that page was closed to staff) must not get a password without its TOTP.
    qs = Account.objects.select_related("student").filter(kind=Account.Kind.STUDENT)
    if "@" in identifier:
        return qs.filter(student__institutional_email=identifier).first()
    return qs.filter(username=identifier).first()


def can_receive_link(account: Account) -> bool:
    """Only an active student account with a verified personal address gets a reset link."""
    return (
        account.kind == Account.Kind.STUDENT
        and account.state == Account.State.ACTIVE
        and bool(account.personal_email)
        and account.personal_email_verified_at is not None
    )


def _mail_context(account: Account, code: str) -> dict[str, object]:
    return {
        "full_name": account.display_name,
        "username": account.username,
        "link": link_url(OneTimeCode.Purpose.PASSWORD_RESET, code),
        "minutes": settings.PASSWORD_RESET_CODE_MINUTES,
    }


def _issue_and_mail(account: Account) -> None:
    row, code = code_issue(
        purpose=OneTimeCode.Purpose.PASSWORD_RESET,
        account=account,
        email=account.personal_email,
    )
    link_mail(row, code, to=account.personal_email, context=_mail_context(account, code))


def _pretend(account: Account | None) -> None:
    # The work of ``_issue_and_mail`` without its effects: draw and hash a code, run the
    # revoking UPDATE (on an account that does not exist, so it matches nothing), render the
    # whole message and write the queue's rows in a savepoint rolled back. An account that gets
    # no link then costs about what one that gets a link costs.
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    OneTimeCode.objects.filter(
        account_id=0,
        purpose=OneTimeCode.Purpose.PASSWORD_RESET,
        code_hash=code_hash(code),
        used_at__isnull=True,
        revoked_at__isnull=True,
    ).update(revoked_at=clock.now())
    mail_pretend(template="password_reset", context=_mail_context(account or Account(), code))


def password_reset_request(*, identifier: str, ip: str | None) -> None:
    """The public form: mail a reset link if the account can receive one, say nothing else.

    Raises ``ResetThrottledError`` when this identifier or this client address asked too often
    (the same for existing and unknown identifiers, so it tells nothing either).
    """
    started = time.monotonic()
    key = normalise_identifier(identifier)
    blocked = throttle.blocked("reset-identifier", key or "-", ip=ip)
    if blocked is not None:
        raise ResetThrottledError(blocked)
    with transaction.atomic():
        # Every request counts, sent or not: these scopes limit requests, not failures, and
        # are separate from the login counters (a reset request never locks an account).
        throttle.failed("reset-identifier", key or "-", ip=ip)
        account = _find_account(key)
        outcome = _outcome(account)
        if outcome == "sent":
            assert account is not None
            _issue_and_mail(account)
        else:
            _pretend(account)
        audit_record(
            kind=Kind.PASSWORD_RESET_REQUESTED,
            student=account.student if account is not None else None,
            ip=ip,
            outcome=outcome,
        )
    time.sleep(max(0.0, REQUEST_MIN_SECONDS - (time.monotonic() - started)))


def _outcome(account: Account | None) -> str:
    if account is None:
        return "unknown"
    if account.state != Account.State.ACTIVE:
        return str(account.state)
    if not can_receive_link(account):
        return "no_verified_address"
    # Links mailed to one account per hour, whoever asks (the student, the help desk): beyond
    # PASSWORD_RESET_LINKS_PER_HOUR the public form still answers as usual but nothing is sent
    # (a visible refusal would tell that the account exists).
    if link_cap_reached(account=account, purpose=OneTimeCode.Purpose.PASSWORD_RESET):
        return "limit"
    return "sent"


class ResetLimitError(Exception):
    """The account already got ``PASSWORD_RESET_LINKS_PER_HOUR`` reset links in the last hour."""


def password_reset_send(*, account: Account, actor: Account | None, ip: str | None) -> bool:
    """Mail a reset link to the account's verified personal address (help desk button).

    Returns False, sending nothing, when the account is not active or has no verified personal
    address. Raises ``ResetLimitError`` (nothing sent, the refusal audited) when the account
    already got ``PASSWORD_RESET_LINKS_PER_HOUR`` links in the hour, as the public form does:
    the button is no way around the cap on mails to one mailbox. The audit record names ``actor``
    (the staff member who pressed the button).
    """
    with transaction.atomic():
        account = (
            Account.objects.select_for_update(of=("self",))
            .select_related("student")
            .get(pk=account.pk)
        )
        outcome = "sent" if can_receive_link(account) else "refused"
        if outcome == "sent" and link_cap_reached(
            account=account, purpose=OneTimeCode.Purpose.PASSWORD_RESET
        ):
            outcome = "limit"
        if outcome == "sent":
            _issue_and_mail(account)
        audit_record(
            kind=Kind.PASSWORD_RESET_REQUESTED,
            student=account.student,
            actor=actor,
            ip=ip,
            outcome=outcome,
            by="helpdesk",
        )
    if outcome == "limit":
        raise ResetLimitError
    return outcome == "sent"


@dataclass(frozen=True)
class ResetLink:
    """A usable link: whose account (for the greeting and the password's personal data)."""

    account: Account


def password_reset_code_status(code: str, *, ip: str | None) -> CodeStatus | ResetLink:
    """What the page with the form should show: the form (``ResetLink``) or why not.

    Throttled per client address like the confirmation (``code_check``): opening the page is
    as good a way to test a guessed code as submitting the form.
    """
    status, row = code_check(purpose=OneTimeCode.Purpose.PASSWORD_RESET, code=code, ip=ip)
    if status is not CodeStatus.VALID or row is None:
        return status
    if row.account.state != Account.State.ACTIVE:
        return CodeStatus.INACTIVE
    return ResetLink(account=row.account)


def new_password_problems(account: Account, password: str) -> list[str]:
    """The policy's objections to ``password`` for this account, and "not the current one"."""
    problems = password_policy.check(
        password, personal=password_policy.personal_data_of(account.student)
    )
    if not problems and account.has_usable_password() and account.check_password(password):
        problems.append(_("Choisissez un mot de passe différent de votre mot de passe actuel."))
    return problems


def password_reset_confirm(*, code: str, password: str, ip: str | None) -> CodeStatus:
    """Set the new password behind a valid link, once; end every session of the account.

    Raises ``ValidationError`` (the messages for the form) when the password breaks the policy
    or is the current one; the link then stays usable. Does not sign the student in.
    """
    status, row = code_check(
        purpose=OneTimeCode.Purpose.PASSWORD_RESET,
        code=code,
        ip=ip,
        rejected_kind=Kind.PASSWORD_RESET_CODE_REJECTED,
    )
    if status is not CodeStatus.VALID or row is None:
        return status
    account = row.account
    if account.state != Account.State.ACTIVE:
        return CodeStatus.INACTIVE
    problems = new_password_problems(account, password)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        account = (
            Account.objects.select_for_update(of=("self",))
            .select_related("student")
            .get(pk=account.pk)
        )
        if not code_consume(row):
            return CodeStatus.USED
        if account.state != Account.State.ACTIVE:
            transaction.set_rollback(True)
            return CodeStatus.INACTIVE
        account.set_password(password)
        account.save(update_fields=["password"])
        ended = sessions_end(account=account)
        audit_record(kind=Kind.PASSWORD_RESET, student=account.student, ip=ip, sessions_ended=ended)
        mail_password_changed(account=account, ip=ip, how="reset")
    # The link proved the student holds the mailbox and the password is new: the delay earned
    # by wrong guesses of the old one from untrusted clients is lifted (the daily cap stays),
    # so the new password works at once. The INE's counter is left as it is.
    throttle.release(throttle.policy("password"), account.username)
    return CodeStatus.DONE


def mail_password_changed(*, account: Account, ip: str | None, how: str) -> None:
    """Tell the personal address that the password changed (never the password itself)."""
    if not account.personal_email:
        return
    mail_send(
        to=account.personal_email,
        template="password_changed",
        context={
            "full_name": account.display_name,
            "username": account.username,
            "when": clock.now(),
            "ip": ip or "",
            "how": how,
            "reset_link": f"{settings.BASE_URL}{reverse('password-reset')}",
        },
    )
