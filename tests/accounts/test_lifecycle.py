"""The account state machine: the table, one function per move, audit, signal, receivers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import transaction

from ent.accounts import lifecycle
from ent.accounts.lifecycle import Action, Mover, TransitionError
from ent.accounts.models import Account, AccountSession
from ent.core.models import AuditEvent, OneTimeCode
from tests.accounts.selfservice import signed_in
from tests.conftest import start_activation

pytestmark = pytest.mark.django_db

State = Account.State


@pytest.fixture
def staff(make_staff: Any) -> Account:
    """The help-desk member who makes the moves."""
    account: Account = make_staff("administrator")
    return account


@pytest.fixture
def account_in(make_student: Any, make_active_student: Any, staff: Account) -> Any:
    """``account_in(state)``: a student account brought to ``state`` through the services."""

    def make(state: str) -> Account:
        if state == State.PENDING:
            student = make_student()
            start_activation(student, "pending@example.org")
            return Account.objects.get(student=student)
        account = Account.objects.get(student=make_active_student())
        if state == State.LOCKED:
            lifecycle.account_lock(account=account, actor=staff, ip=None)
        elif state == State.DISABLED:
            lifecycle.account_disable(account=account, actor=staff, ip=None)
        account.refresh_from_db()
        assert account.state == state
        return account

    return make


def _apply(action: Action, account: Account, staff: Account) -> None:
    """Call the function of ``action`` as its mover would."""
    if action is Action.ACTIVATE:
        lifecycle.account_activate(account=account, email="verified@example.org", ip="192.0.2.1")
        return
    function: Callable[..., Any] = {
        Action.LOCK: lifecycle.account_lock,
        Action.UNLOCK: lifecycle.account_unlock,
        Action.DISABLE: lifecycle.account_disable,
    }[action]
    function(account=account, actor=staff, ip="192.0.2.1")


@pytest.fixture
def announced() -> Iterator[list[dict[str, Any]]]:
    """Every ``account_state_changed`` sent while the test runs, as its keyword arguments."""
    sent: list[dict[str, Any]] = []

    def listen(sender: Any, **kwargs: Any) -> None:
        sent.append(kwargs)

    lifecycle.account_state_changed.connect(listen, dispatch_uid="test_lifecycle")
    yield sent
    lifecycle.account_state_changed.disconnect(dispatch_uid="test_lifecycle")


def test_table_is_well_formed() -> None:
    pairs = [(t.source, t.action) for t in lifecycle.TRANSITIONS]
    assert len(pairs) == len(set(pairs))  # one target per (state, action)
    assert {t.action for t in lifecycle.TRANSITIONS} == set(Action)
    assert lifecycle.SIGNED_OUT_STATES.issubset(set(State))
    activate = lifecycle.transition_find(
        state=State.PENDING, action=Action.ACTIVATE, by=Mover.STUDENT
    )
    assert activate is not None and activate.target == State.ACTIVE
    # The help desk cannot activate in the student's place, nor the student lock themselves.
    assert not lifecycle.transition_find(
        state=State.PENDING, action=Action.ACTIVATE, by=Mover.HELPDESK
    )
    assert not lifecycle.transition_find(state=State.ACTIVE, action=Action.LOCK, by=Mover.STUDENT)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("state", list(State))
def test_every_pair_is_applied_or_refused(
    action: Action,
    state: str,
    account_in: Any,
    staff: Account,
    announced: list[dict[str, Any]],
) -> None:
    """Allowed moves change the state, write their audit record and announce themselves once;
    every other (state, action) raises and writes nothing."""
    account = account_in(state)
    row = next((t for t in lifecycle.TRANSITIONS if t.source == state and t.action is action), None)
    audits = AuditEvent.objects.count()
    announced.clear()
    if row is None:
        with pytest.raises(TransitionError) as refused:
            _apply(action, account, staff)
        assert refused.value.action is action and refused.value.state == state
        account.refresh_from_db()
        assert account.state == state
        assert AuditEvent.objects.count() == audits
        assert announced == []
        return
    _apply(action, account, staff)
    account.refresh_from_db()
    assert account.state == row.target
    event = AuditEvent.objects.latest("pk")
    assert event.kind == row.audit and event.student == account.student
    assert event.ip == "192.0.2.1"
    assert event.actor == (None if action is Action.ACTIVATE else staff)
    assert AuditEvent.objects.count() == audits + 1
    assert len(announced) == 1
    assert announced[0]["old"] == state and announced[0]["new"] == row.target
    assert announced[0]["action"] is action and announced[0]["account"].pk == account.pk


def test_activate_records_the_verified_address(account_in: Any) -> None:
    account = account_in(State.PENDING)
    lifecycle.account_activate(account=account, email="verified@example.org", ip=None)
    account.refresh_from_db()
    assert account.personal_email == "verified@example.org"
    assert account.activated_at is not None
    assert account.personal_email_verified_at == account.activated_at


def test_audit_is_in_the_same_transaction(account_in: Any, staff: Account) -> None:
    """Rolled back with its caller: no state change, no audit record."""
    account = account_in(State.ACTIVE)
    audits = AuditEvent.objects.count()
    with transaction.atomic():
        lifecycle.account_lock(account=account, actor=staff, ip=None)
        transaction.set_rollback(True)
    account.refresh_from_db()
    assert account.state == State.ACTIVE
    assert AuditEvent.objects.count() == audits


def test_a_failing_receiver_undoes_the_move(account_in: Any, staff: Account) -> None:
    account = account_in(State.ACTIVE)
    audits = AuditEvent.objects.count()

    def fail(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver failed")

    lifecycle.account_state_changed.connect(fail, dispatch_uid="test_lifecycle_fail")
    try:
        with pytest.raises(RuntimeError):
            lifecycle.account_lock(account=account, actor=staff, ip=None)
    finally:
        lifecycle.account_state_changed.disconnect(dispatch_uid="test_lifecycle_fail")
    account.refresh_from_db()
    assert account.state == State.ACTIVE
    assert AuditEvent.objects.count() == audits


def test_lock_ends_sessions_and_counts_them(active_student: Any, staff: Account) -> None:
    clients = [signed_in(active_student) for _ in range(2)]
    account = active_student.account
    assert lifecycle.account_lock(account=account, actor=staff, ip=None) == 2
    assert not AccountSession.objects.filter(account=account).exists()
    assert all(not c.get("/").context["user"].is_authenticated for c in clients)
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.HELPDESK_ACCOUNT_LOCKED)
    assert event.data == {"sessions": 2}
    lifecycle.account_unlock(account=account, actor=staff, ip=None)
    assert AuditEvent.objects.get(kind=AuditEvent.Kind.HELPDESK_ACCOUNT_UNLOCKED).data == {}


def test_disable_ends_sessions_and_names_the_previous_state(
    active_student: Any, staff: Account
) -> None:
    client = signed_in(active_student)
    lifecycle.account_disable(account=active_student.account, actor=staff, ip=None)
    assert not client.get("/").context["user"].is_authenticated
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.HELPDESK_ACCOUNT_DISABLED)
    assert event.data == {"previous": "active", "sessions": 1}


def test_disable_revokes_the_pending_activation_link(account_in: Any, staff: Account) -> None:
    account = account_in(State.PENDING)
    open_codes = OneTimeCode.objects.filter(
        account=account, used_at__isnull=True, revoked_at__isnull=True
    )
    assert open_codes.count() == 1
    lifecycle.account_disable(account=account, actor=staff, ip=None)
    assert open_codes.count() == 0


def test_activate_leaves_codes_open(account_in: Any) -> None:
    """Only the states without sign-in revoke codes."""
    account = account_in(State.PENDING)
    lifecycle.account_activate(account=account, email="x@example.org", ip=None)
    assert OneTimeCode.objects.filter(account=account, revoked_at__isnull=True).count() == 1
    assert (
        AuditEvent.objects.filter(kind=AuditEvent.Kind.ACTIVATION_CONFIRMED).latest("pk").data == {}
    )


@pytest.mark.parametrize("action", [Action.LOCK, Action.DISABLE])
def test_lock_and_disable_log_out_of_cas_services(
    action: Action, active_student: Any, staff: Account, settings: Any
) -> None:
    """Single logout follows the ended sessions (``sessions_ended``, ``ent.sso.cas``)."""
    from ent.sso.models import CasTicket
    from tests.sso.cas_helpers import http_server, register, signed_in, ticket_from

    settings.CAS_HTTP_TIMEOUT_SECONDS = 1
    with http_server() as app:
        register(logout_url=app.url + "/slo")
        ticket = ticket_from(signed_in(active_student))
        _apply(action, active_student.account, staff)
        app.wait()
        method, path, _, form = app.requests[0]
        assert (method, path) == ("POST", "/slo")
        assert ticket in form["logoutRequest"][0]
    assert not CasTicket.objects.filter(account=active_student.account).exists()


def test_staff_deactivation_is_the_disable_move(make_staff: Any, staff: Account) -> None:
    """The help desk closes a staff account through the state machine: its own audit kind
    naming the account, its sessions ended, its invitation link revoked; a second time is
    refused with the help desk's message and writes nothing."""
    from ent.core.codes import code_issue
    from ent.helpdesk import services

    member: Account = make_staff("agent")
    row, _code = code_issue(
        purpose=OneTimeCode.Purpose.STAFF_INVITE, account=member, email=member.personal_email
    )
    services.staff_deactivate(account=member, actor=staff, ip="192.0.2.1")
    member.refresh_from_db()
    row.refresh_from_db()
    assert member.state == State.DISABLED
    assert row.revoked_at is not None
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.STAFF_DEACTIVATED)
    assert event.data["target"] == member.username
    assert event.actor == staff
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.HELPDESK_ACCOUNT_DISABLED).exists()
    with pytest.raises(services.ActionError):
        services.staff_deactivate(account=member, actor=staff, ip="192.0.2.1")
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.STAFF_DEACTIVATED).count() == 1


@pytest.mark.mail_queue_manual
def test_lock_withdraws_the_link_mails_still_queued(
    active_student: Any, staff: Account, mailoutbox: list[Any]
) -> None:
    """The mail queue listens too: a reset link queued (the relay down, say) and then the
    account locked is never sent, and its code leaves the queue's table; a mail already sent
    stays sent, and other mails of the queue are left alone."""
    from ent.accounts import password_reset
    from ent.core.codes import link_mail_key
    from ent.core.mail import _key_digest, mail_deliver, mail_queue_run, mail_send
    from ent.core.models import MailDelivery

    account = Account.objects.get(student=active_student)
    mail_send(
        to="other@example.org", template="password_reset", context={"minutes": 60}, key="unrelated"
    )
    password_reset.password_reset_request(identifier=account.username, ip="192.0.2.1")
    code = OneTimeCode.objects.get(account=account, purpose=OneTimeCode.Purpose.PASSWORD_RESET)
    queued = MailDelivery.objects.get(key=_key_digest(link_mail_key(code.pk)))
    assert queued.state == MailDelivery.State.QUEUED and queued.payload is not None
    before = len(mailoutbox)

    lifecycle.account_lock(account=account, actor=staff, ip="192.0.2.1")

    queued.refresh_from_db()
    assert queued.state == MailDelivery.State.WITHDRAWN
    assert queued.payload is None and queued.raw is None
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.HELPDESK_ACCOUNT_LOCKED)
    assert event.data["mails_withdrawn"] == 1
    assert mail_deliver.call(queued.pk) == "skipped"
    mail_queue_run()
    assert [m.to for m in mailoutbox[before:]] == [["other@example.org"]]
    assert MailDelivery.objects.get(key=_key_digest("unrelated")).state == (MailDelivery.State.SENT)
    # Unlocked and locked again: nothing left to withdraw, nothing more in the audit record.
    lifecycle.account_unlock(account=account, actor=staff, ip=None)
    lifecycle.account_lock(account=account, actor=staff, ip=None)
    again = AuditEvent.objects.filter(kind=AuditEvent.Kind.HELPDESK_ACCOUNT_LOCKED).first()
    assert again is not None and "mails_withdrawn" not in again.data
