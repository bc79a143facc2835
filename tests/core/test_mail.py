"""Mail leaves only when the change that caused it commits."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from ent.core.mail import mail_send
from ent.core.models import MailDelivery


@pytest.mark.django_db(transaction=True)
def test_rolled_back_change_sends_nothing() -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        mail_send(
            to="a@example.org",
            template="activation",
            context={"full_name": "A B", "link": "x", "hours": 48},
        )
        raise Boom
    assert mail.outbox == []
    assert not MailDelivery.objects.exists() and not DBTaskResult.objects.exists()
    with transaction.atomic():
        mail_send(
            to="a@example.org",
            template="activation",
            context={"full_name": "A B", "link": "x", "hours": 48},
        )
        assert mail.outbox == []  # not before commit
    assert len(mail.outbox) == 1
    assert MailDelivery.objects.get().state == MailDelivery.State.SENT


def test_header_injection_refused() -> None:
    from django.core.mail import BadHeaderError

    with pytest.raises((BadHeaderError, ValueError)):
        mail_send(
            to="a@example.org\nBcc: victim@example.org",
            template="activation",
            context={"full_name": "A", "link": "x", "hours": 1},
        )
