"""The account state machine: the states, who may move an account between them, and how.

The states are ``Account.State`` (pending, active, locked, disabled). ``TRANSITIONS`` lists
every allowed move: from which state, to which, by which action, and who may make it. Each
action has one function here (``account_activate``, ``account_lock``, ``account_unlock``,
``account_disable``), in the style of Zulip's ``do_*`` actions: under ``select_for_update`` in
``transaction.atomic()`` it checks the move is in the table (``TransitionError`` otherwise,
nothing written), changes the state, announces it by ``account_state_changed`` and writes the
audit record, all in the same transaction.

What a transition does elsewhere is done by receivers of ``account_state_changed``:

- ``ent.accounts.sessions``: entering a state without sign-in (``SIGNED_OUT_STATES``) ends the
  account's sessions; ``sessions_end`` then sends ``sessions_ended``, which single sign-on
  listens to (CAS single logout and ticket removal in ``ent.sso.cas``, OIDC back-channel
  logout in ``ent.sso.oidc``).
- this module: entering such a state revokes the account's open mailed codes, and the mail
  queue (``ent.core.mail.mail_withdraw``) withdraws the mails of those links that no worker
  has started: a locked student is not sent a dead link, and its code leaves the database.
- the directory writer (a later issue) connects here too, to publish the new state.

A receiver may return a dict of facts that the transition adds to its audit record (the
sessions receiver returns ``{"sessions": <how many ended>}``). Receivers run inside the
transaction: a new one with an effect outside the database (a directory write, a mail) uses
``transaction.on_commit``. Ending sessions runs at once, as it always has, because the audit
record counts them; if the move were then rolled back, the student would only sign in again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from django.db import transaction
from django.dispatch import Signal, receiver

from ent.core import clock
from ent.core.audit import Kind, audit_record
from ent.core.codes import link_mail_key
from ent.core.mail import mail_withdraw
from ent.core.models import OneTimeCode

from .models import Account

State = Account.State


class Action(Enum):
    """What moves an account from one state to another."""

    ACTIVATE = "activate"
    LOCK = "lock"
    UNLOCK = "unlock"
    DISABLE = "disable"


class Mover(Enum):
    """Who may make a move. The help desk's roles (agent, administrator) are checked by its
    views (``STUDENT_ACTIONS``): disabling is for administrators only."""

    STUDENT = "student"  # through the activation journey (the mailed link)
    HELPDESK = "helpdesk"
    SYSTEM = "system"  # no move yet: room for the end-of-life jobs


@dataclass(frozen=True)
class Transition:
    """One allowed move: ``action`` takes an account from ``source`` to ``target``."""

    source: Account.State
    target: Account.State
    action: Action
    by: frozenset[Mover]
    audit: Kind
    staff_audit: Kind | None = None  # the audit kind when the account is a staff member's


_HELPDESK = frozenset({Mover.HELPDESK})

# Every allowed move; any other (state, action) pair is refused. The end-of-life states of a
# later issue (e.g. SUSPENDED, CLOSED, moved by Mover.SYSTEM after the student leaves) are new
# rows here, new ``Account.State`` values, and, if they forbid sign-in, new members of
# ``SIGNED_OUT_STATES``.
TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        State.PENDING,
        State.ACTIVE,
        Action.ACTIVATE,
        frozenset({Mover.STUDENT}),
        Kind.ACTIVATION_CONFIRMED,
    ),
    Transition(State.ACTIVE, State.LOCKED, Action.LOCK, _HELPDESK, Kind.HELPDESK_ACCOUNT_LOCKED),
    Transition(
        State.LOCKED, State.ACTIVE, Action.UNLOCK, _HELPDESK, Kind.HELPDESK_ACCOUNT_UNLOCKED
    ),
    *(
        Transition(
            source,
            State.DISABLED,
            Action.DISABLE,
            _HELPDESK,
            Kind.HELPDESK_ACCOUNT_DISABLED,
            staff_audit=Kind.STAFF_DEACTIVATED,
        )
        for source in (State.PENDING, State.ACTIVE, State.LOCKED)
    ),
)

# States without sign-in: entering one ends the sessions and revokes the open codes (a link
# mailed before a lock must not work after the unlock).
SIGNED_OUT_STATES = frozenset({State.LOCKED, State.DISABLED})


def transition_find(*, state: str, action: Action, by: Mover) -> Transition | None:
    """The row of ``TRANSITIONS`` allowing ``by`` to apply ``action`` in ``state``, if any."""
    for row in TRANSITIONS:
        if row.source == state and row.action is action and by in row.by:
            return row
    return None


class TransitionError(Exception):
    """The action does not apply to the account in its current state (nothing was written)."""

    def __init__(self, *, action: Action, state: str) -> None:
        super().__init__(f"{action.value} refused for an account in state {state}")
        self.action = action
        self.state = state


# Sent inside the transaction of every move, before its audit record, with ``account`` (the
# locked row, state already changed), ``old`` and ``new`` (``Account.State``), ``action``,
# ``by`` (``Mover``), ``actor`` (the staff member, None for the student) and ``ip``.
account_state_changed = Signal()


def _move(
    *,
    account: Account,
    action: Action,
    by: Mover,
    actor: Account | None,
    ip: str | None,
    fields: dict[str, Any] | None = None,
    audit: dict[str, Any] | None = None,
    audit_previous: bool = False,
) -> dict[str, Any]:
    """Check, change, announce and audit, in one transaction; returns the receivers' facts.

    ``fields``: other columns the move sets; ``audit``: data for the audit record, to which
    the receivers' facts are added (and the state left, ``previous``, if ``audit_previous``).
    """
    with transaction.atomic():
        # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of the student join.
        row = (
            Account.objects.select_for_update(of=("self",))
            .select_related("student")
            .get(pk=account.pk)
        )
        transition = transition_find(state=row.state, action=action, by=by)
        if transition is None:
            raise TransitionError(action=action, state=row.state)
        row.state = transition.target
        for name, value in (fields or {}).items():
            setattr(row, name, value)
        row.save(update_fields=["state", *(fields or {})])
        facts: dict[str, Any] = {}
        for _receiver, response in account_state_changed.send(
            sender=Account,
            account=row,
            old=transition.source,
            new=transition.target,
            action=action,
            by=by,
            actor=actor,
            ip=ip,
        ):
            if isinstance(response, dict):
                facts.update(response)
        data = {**(audit or {}), **facts}
        if audit_previous:
            data["previous"] = transition.source.value
        kind = transition.audit
        if row.kind == Account.Kind.STAFF:
            # A staff account has no student record: the audit names it by its username.
            kind, data["target"] = transition.staff_audit or kind, row.username
        audit_record(kind=kind, student=row.student, actor=actor, ip=ip, **data)
    return facts


def account_activate(*, account: Account, email: str, ip: str | None) -> None:
    """Pending → active: the student followed the link mailed to ``email``, which becomes
    their verified personal address. Raises ``TransitionError`` when the account is no longer
    pending (locked or disabled by the help desk meanwhile, or already active)."""
    now = clock.now()
    fields = {"activated_at": now, "personal_email": email, "personal_email_verified_at": now}
    _move(
        account=account, action=Action.ACTIVATE, by=Mover.STUDENT, actor=None, ip=ip, fields=fields
    )


def account_lock(*, account: Account, actor: Account, ip: str | None) -> int:
    """Active → locked (help desk): sessions ended, open codes revoked (reset, address change:
    a link mailed before the lock must not work after an unlock); returns how many sessions
    ended."""
    facts = _move(
        account=account,
        action=Action.LOCK,
        by=Mover.HELPDESK,
        actor=actor,
        ip=ip,
        audit={"sessions": 0},
    )
    ended: int = facts.get("sessions", 0)
    return ended


def account_unlock(*, account: Account, actor: Account, ip: str | None) -> None:
    """Locked → active (help desk): the account signs in again."""
    _move(account=account, action=Action.UNLOCK, by=Mover.HELPDESK, actor=actor, ip=ip)


def account_disable(*, account: Account, actor: Account, ip: str | None) -> None:
    """Any state but disabled → disabled, for good (help desk administrators): no sign-in, no
    activation link; sessions ended, open codes revoked. A staff account too (its audit kind
    is ``STAFF_DEACTIVATED``, with its username as ``target``)."""
    _move(
        account=account,
        action=Action.DISABLE,
        by=Mover.HELPDESK,
        actor=actor,
        ip=ip,
        audit={"sessions": 0},
        audit_previous=True,
    )


@receiver(account_state_changed, dispatch_uid="ent.accounts.lifecycle.codes_revoke")
def _codes_revoke(sender: Any, account: Account, new: str, **kwargs: Any) -> dict[str, int] | None:
    """Entering a state without sign-in revokes every open mailed code of the account, and
    the mail queue withdraws the mails of those links still waiting to be sent."""
    if new not in SIGNED_OUT_STATES:
        return None
    open_codes = OneTimeCode.objects.filter(
        account=account, used_at__isnull=True, revoked_at__isnull=True
    )
    revoked = list(open_codes.values_list("pk", flat=True))
    OneTimeCode.objects.filter(pk__in=revoked).update(revoked_at=clock.now())
    withdrawn = mail_withdraw(keys=[link_mail_key(pk) for pk in revoked])
    return {"mails_withdrawn": withdrawn} if withdrawn else None
