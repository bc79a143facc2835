"""Changing the personal address: the services the profile and the help desk call."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from ent.accounts import email_change, password_reset
from ent.accounts.models import Account
from ent.core import clock
from ent.core.codes import CodeStatus
from ent.core.models import AuditEvent
from tests.accounts.selfservice import EMAIL_RE, code_in, outbox
from tests.conftest import SMTPCatcher, text_body

pytestmark = pytest.mark.django_db


def test_new_address_used_only_once_verified(
    active_student: Any, smtp_server: SMTPCatcher, settings: Any
) -> None:
    account = active_student.account
    email_change.email_change_start(
        account=account, new_email=" Sophie.G@Example.NET ", actor=account, ip="192.0.2.3"
    )
    verify = smtp_server.wait_for(1)[0]
    assert verify["To"] == "Sophie.G@example.net"
    code = code_in(text_body(verify), EMAIL_RE)
    assert f"{settings.BASE_URL}/account/email/confirm?code={code}" in text_body(verify)
    # Not used yet: a reset link still goes to the old, verified address.
    account.refresh_from_db()
    assert account.personal_email == "sophie@example.org"
    assert password_reset.password_reset_send(account=account, actor=None, ip=None)
    assert smtp_server.wait_for(2)[1]["To"] == "sophie@example.org"

    assert email_change.email_change_code_status(code, ip=None) is None
    assert email_change.email_change_confirm(code=code, ip="192.0.2.4") is (CodeStatus.DONE)
    account.refresh_from_db()
    assert account.personal_email == "Sophie.G@example.net"
    assert account.personal_email_verified_at is not None
    notice = smtp_server.wait_for(3)[2]
    assert notice["To"] == "sophie@example.org"
    assert notice["Subject"].strip() == "Votre adresse mail personnelle a été modifiée"
    assert "So…G@example.net" in text_body(notice)
    assert "Sophie.G@example.net" not in text_body(notice)
    # The reset link sent to the old address no longer works.
    assert password_reset.password_reset_code_status(
        code_in(text_body(smtp_server.messages[1])), ip=None
    ) is (CodeStatus.REVOKED)
    assert email_change.email_change_confirm(code=code, ip=None) is CodeStatus.USED
    kinds = list(
        AuditEvent.objects.filter(kind__startswith="email.").values_list("kind", flat=True)
    )
    assert kinds == ["email.change_code_rejected", "email.changed", "email.change_requested"]


def test_helpdesk_start_is_audited_with_the_actor(active_student: Any) -> None:
    staff = Account.objects.create_user("agent", "Agent.Helpdesk2026")
    email_change.email_change_start(
        account=active_student.account, new_email="new@example.org", actor=staff, ip=None
    )
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.EMAIL_CHANGE_REQUESTED)
    assert event.actor == staff and event.data["by"] == "helpdesk"
    assert outbox()[-1].to == ["new@example.org"]


@pytest.mark.parametrize("bad", ["pas une adresse", "x@etudiant.univ-perp.fr", ""])
def test_bad_addresses_refused(active_student: Any, bad: str) -> None:
    before = len(outbox())
    with pytest.raises(ValidationError):
        email_change.email_change_start(
            account=active_student.account, new_email=bad, actor=None, ip=None
        )
    assert len(outbox()) == before


def test_expired_revoked_unknown(active_student: Any, settings: Any) -> None:
    account = active_student.account
    email_change.email_change_start(account=account, new_email="a@example.org", actor=None, ip=None)
    first = code_in(outbox()[-1].body, EMAIL_RE)
    email_change.email_change_start(account=account, new_email="b@example.org", actor=None, ip=None)
    second = code_in(outbox()[-1].body, EMAIL_RE)
    assert email_change.email_change_confirm(code=first, ip=None) is CodeStatus.REVOKED
    assert email_change.email_change_confirm(code="B" * 20, ip=None) is CodeStatus.UNKNOWN
    clock.advance(timedelta(hours=settings.EMAIL_CHANGE_CODE_HOURS, seconds=1))
    assert email_change.email_change_code_status(second, ip=None) is CodeStatus.EXPIRED
    assert email_change.email_change_confirm(code=second, ip=None) is CodeStatus.EXPIRED
    account.refresh_from_db()
    assert account.personal_email == "sophie@example.org"


def test_confirm_refused_unless_account_active(active_student: Any, client: Any) -> None:
    """A locked (or disabled) account does not get a new address by a link sent before."""
    account = active_student.account
    email_change.email_change_start(account=account, new_email="a@example.org", actor=None, ip=None)
    code = code_in(outbox()[-1].body, EMAIL_RE)
    Account.objects.filter(pk=account.pk).update(state=Account.State.LOCKED)
    assert email_change.email_change_confirm(code=code, ip=None) is CodeStatus.INACTIVE
    account.refresh_from_db()
    assert account.personal_email == "sophie@example.org"
    client.get(f"/account/email/confirm?code={code}")
    response = client.post("/account/email/confirm", {"code": code})
    assert response.status_code == 400
    assert "n'est pas actif" in response.content.decode()
    Account.objects.filter(pk=account.pk).update(state=Account.State.ACTIVE)
    assert email_change.email_change_confirm(code=code, ip=None) is CodeStatus.DONE
