"""What the help desk changes: student accounts (lock, unlock, disable, links) and staff.

Locking, unlocking and disabling are moves of the account state machine
(``ent.accounts.lifecycle``); this module turns its refusals into the help desk's messages.

Every function takes the staff ``actor`` and the client ``ip``, runs in a transaction and writes
its audit record there. No function here sets, returns or mails a password: a staff member
chooses their own through a single-use link, a student through the reset link.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from ent.accounts import activation, lifecycle, password_policy
from ent.accounts.models import Account
from ent.accounts.sessions import sessions_end
from ent.core import throttle
from ent.core.audit import Kind, audit_record
from ent.core.codes import CodeStatus, code_check, code_consume, code_issue, link_mail
from ent.core.models import OneTimeCode

from .roles import Role


class ActionError(Exception):
    """The action does not apply to this account now (the message says why, in French)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- Student accounts ---------------------------------------------------------------------------


def _refused(error: lifecycle.TransitionError) -> ActionError:
    """The message the help desk shows when the state machine refuses an action (translated
    here, in the language of the request)."""
    if error.action is lifecycle.Action.LOCK:
        return ActionError(_("Seul un compte actif peut être bloqué."))
    if error.action is lifecycle.Action.UNLOCK:
        return ActionError(_("Ce compte n'est pas bloqué."))
    return ActionError(_("Ce compte est déjà désactivé."))


def account_lock(*, account: Account, actor: Account, ip: str | None) -> int:
    """Lock an active account (``lifecycle.account_lock``); returns how many sessions ended."""
    try:
        return lifecycle.account_lock(account=account, actor=actor, ip=ip)
    except lifecycle.TransitionError as error:
        raise _refused(error) from None


def account_unlock(*, account: Account, actor: Account, ip: str | None) -> None:
    """Give a locked account back its sign-in (``lifecycle.account_unlock``)."""
    try:
        lifecycle.account_unlock(account=account, actor=actor, ip=ip)
    except lifecycle.TransitionError as error:
        raise _refused(error) from None


def account_disable(*, account: Account, actor: Account, ip: str | None) -> None:
    """Disable an account for good (administrators; ``lifecycle.account_disable``)."""
    try:
        lifecycle.account_disable(account=account, actor=actor, ip=ip)
    except lifecycle.TransitionError as error:
        raise _refused(error) from None


def account_sign_in_unblock(
    *, account: Account, device: str | None, actor: Account, ip: str | None
) -> None:
    """Lift the throttling of the account's untrusted clients (``device`` None) or of one
    device cookie (issue 13 §3).

    Untrusted clients: the delay and the run end, the day's count stays (as after a password
    reset), so the right password works at once. A device: its counter is dropped, a revoked
    cookie is trusted again.
    """
    student = account.student
    if student is None:
        raise ActionError(_("Ce compte n'est pas celui d'un étudiant."))
    with transaction.atomic():
        if device is None:
            throttle.release(throttle.policy("password"), student.student_number)
        else:
            throttle.forget(throttle.policy("device"), device)
        audit_record(
            kind=Kind.HELPDESK_THROTTLE_LIFTED,
            student=student,
            actor=actor,
            ip=ip,
            side="device" if device is not None else "untrusted",
            **({"device": device} if device is not None else {}),
        )


def account_sessions_end(*, account: Account, actor: Account, ip: str | None) -> int:
    """End every session of the account (it signs in again with its password)."""
    with transaction.atomic():
        ended = sessions_end(account=account)
        audit_record(
            kind=Kind.HELPDESK_SESSIONS_ENDED,
            student=account.student,
            actor=actor,
            ip=ip,
            sessions=ended,
        )
    return ended


def account_activation_resend(*, account: Account, actor: Account, ip: str | None) -> None:
    """Mail a fresh activation link to the address the student gave (same limits as theirs)."""
    try:
        with transaction.atomic():
            activation.activation_resend(account=account, ip=ip)
            audit_record(
                kind=Kind.HELPDESK_ACTIVATION_RESENT, student=account.student, actor=actor, ip=ip
            )
    except activation.AlreadyActiveError:
        raise ActionError(_("Ce compte n'attend pas d'activation.")) from None
    except activation.ResendRefusedError:
        raise ActionError(
            _("Plusieurs liens ont déjà été envoyés dans l'heure : réessayez plus tard.")
        ) from None


def account_reset_send(*, account: Account, actor: Account, ip: str | None) -> None:
    """Send a password reset link to the verified personal address (never to another one)."""
    from ent.accounts.password_reset import ResetLimitError, password_reset_send

    if account.state != Account.State.ACTIVE or not account.personal_email_verified_at:
        raise ActionError(
            _(
                "Un lien ne peut être envoyé qu'à un compte actif ayant une adresse personnelle vérifiée."
            )
        )
    # password_reset_send writes the audit record itself, naming the actor.
    try:
        sent = password_reset_send(account=account, actor=actor, ip=ip)
    except ResetLimitError:
        raise ActionError(
            _(
                "Le lien n'a pas été envoyé : ce compte a déjà reçu %(n)d liens de réinitialisation dans l'heure. Réessayez plus tard."
            )
            % {"n": settings.PASSWORD_RESET_LINKS_PER_HOUR}
        ) from None
    if not sent:
        raise ActionError(_("Le lien n'a pas été envoyé : le compte ne peut pas le recevoir."))


# --- Staff accounts -----------------------------------------------------------------------------


def _set_role(account: Account, role: Role) -> None:
    # get_or_create: the migration creates both groups, but a flushed test database has none.
    group, _created = Group.objects.get_or_create(name=role.value)
    account.groups.set([group])


def _mail_invite(account: Account) -> None:
    row, code = code_issue(
        purpose=OneTimeCode.Purpose.STAFF_INVITE, account=account, email=account.personal_email
    )
    link_mail(row, code, to=account.personal_email, context={"username": account.username})


def staff_create(
    *, username: str, email: str, role: Role, actor: Account, ip: str | None
) -> Account:
    """A new staff account with no password; the person chooses one through the mailed link."""
    try:
        with transaction.atomic():
            account = Account(
                username=username,
                kind=Account.Kind.STAFF,
                state=Account.State.ACTIVE,
                personal_email=email,
            )
            account.set_unusable_password()
            account.save()
            _set_role(account, role)
            audit_record(
                kind=Kind.STAFF_CREATED, actor=actor, ip=ip, target=username, role=role.value
            )
            _mail_invite(account)
    except IntegrityError:
        raise ActionError(_("Cet identifiant est déjà pris.")) from None
    return account


def staff_invite_resend(*, account: Account, actor: Account, ip: str | None) -> None:
    """A new link for a staff member who has not chosen a password yet (the old one dies)."""
    if account.has_usable_password():
        raise ActionError(_("Cette personne a déjà choisi son mot de passe."))
    with transaction.atomic():
        _mail_invite(account)
        audit_record(kind=Kind.STAFF_INVITE_SENT, actor=actor, ip=ip, target=account.username)


def staff_role_set(*, account: Account, role: Role, actor: Account, ip: str | None) -> None:
    """Make a staff member an agent or an administrator."""
    if account.pk == actor.pk:
        raise ActionError(_("Vous ne pouvez pas changer votre propre rôle."))
    with transaction.atomic():
        _set_role(account, role)
        audit_record(
            kind=Kind.STAFF_ROLE_CHANGED,
            actor=actor,
            ip=ip,
            target=account.username,
            role=role.value,
        )


def staff_deactivate(*, account: Account, actor: Account, ip: str | None) -> None:
    """Close a staff account (``lifecycle.account_disable``): no sign-in, sessions ended, its
    invitation link revoked."""
    if account.pk == actor.pk:
        raise ActionError(_("Vous ne pouvez pas désactiver votre propre compte."))
    try:
        lifecycle.account_disable(account=account, actor=actor, ip=ip)
    except lifecycle.TransitionError as error:
        raise _refused(error) from None


def staff_totp_reset(*, account: Account, actor: Account, ip: str | None) -> None:
    """Forget the staff member's TOTP device (lost phone): they enrol again at next sign-in."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=account).delete()
        sessions_end(account=account)
        audit_record(kind=Kind.STAFF_TOTP_RESET, actor=actor, ip=ip, target=account.username)


class InviteThrottledError(Exception):
    """This client address presented too many unknown invitation codes: it must wait."""


def _invite_check(code: str, ip: str | None) -> tuple[CodeStatus, OneTimeCode | None]:
    # An invitation leads to a staff account: guesses are throttled per address like every
    # other mailed code (ent.core.codes.code_check).
    status, row = code_check(purpose=OneTimeCode.Purpose.STAFF_INVITE, code=code, ip=ip)
    if status is CodeStatus.THROTTLED:
        raise InviteThrottledError
    return status, row


def staff_invite_account(code: str, *, ip: str | None) -> Account | None:
    """The staff account a still-valid invitation code belongs to (None otherwise).

    Raises ``InviteThrottledError`` when this client address guessed too many codes.
    """
    status, row = _invite_check(code, ip)
    if status is not CodeStatus.VALID or row is None or not row.account.is_staff:
        return None
    return row.account


def staff_password_set(*, code: str, password: str, ip: str | None) -> Account | None:
    """The invited person chooses their password; the link then stops working.

    Raises ``InviteThrottledError`` when this client address guessed too many codes.
    """
    status, row = _invite_check(code, ip)
    if status is not CodeStatus.VALID or row is None:
        return None
    problems = password_policy.check(password, personal=[row.account.username])
    if problems:
        raise ActionError(" ".join(str(p) for p in problems))
    with transaction.atomic():
        if not code_consume(row):
            return None
        account = Account.objects.select_for_update().get(pk=row.account_id)
        account.set_password(password)
        account.save(update_fields=["password"])
        audit_record(kind=Kind.STAFF_PASSWORD_SET, actor=account, ip=ip, target=account.username)
    return account


# --- Mails that failed for good (the dashboard's "Renvoyer" button) ------------------------------


def mail_retry(*, delivery_id: int, actor: Account, ip: str | None) -> None:
    """Queue a mail that failed for good once more, with a fresh set of attempts; audited.

    Open to agents and administrators alike: it sends again, to the same address, the very mail
    that ENT already decided to send, so it grants no power over an account. Raises
    ``ActionError`` when the mail is not (or no longer) failed, or its content was cleared.
    """
    from ent.core.mail import mail_delivery_retry
    from ent.core.models import MailDelivery

    with transaction.atomic():
        try:
            delivery = MailDelivery.objects.select_for_update().get(pk=delivery_id)
        except MailDelivery.DoesNotExist:
            raise ActionError(_("Ce mail n'existe plus.")) from None
        if not delivery.retryable:
            raise ActionError(
                _(
                    "Ce mail ne peut pas être renvoyé : il n'est plus en échec ou son contenu a été effacé."
                )
            )
        attempts, last_error = delivery.attempts, delivery.last_error
        mail_delivery_retry(delivery_id=delivery.pk)
        audit_record(
            kind=Kind.MAIL_RETRIED,
            actor=actor,
            ip=ip,
            mail=delivery.pk,
            template=delivery.template,
            to=delivery.to,
            attempts=attempts,
            last_error=last_error,
        )
