"""The webmail part of ``ent demo``: a welcome message in each demo INBOX, the receiver running.

Only for the local backend (a Dovecot installation has its own mail and its own LMTP).
"""

from __future__ import annotations

import email.policy
import logging
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from django.conf import settings
from django.template.loader import render_to_string

from ent.core import clock
from ent.directory.models import Student

from .backends.local import INBOX, LocalStore
from .receiver import ReceiverController, receiver_controller

logger = logging.getLogger(__name__)


def welcome_message(student: Student) -> bytes:
    """The welcome mail of a demo mailbox (French first, through the mail templates)."""
    context = {
        "full_name": student.full_name,
        "address": student.institutional_email,
        "university_name": settings.UNIVERSITY_NAME,
        "receiver": f"{settings.MAIL_RECEIVER_HOST}:{settings.MAIL_RECEIVER_PORT}",
        "protocol": settings.MAIL_RECEIVER_PROTOCOL.upper(),
    }
    message = EmailMessage()
    message["From"] = formataddr((settings.UNIVERSITY_NAME, settings.MAIL_FROM))
    message["To"] = formataddr((student.full_name, student.institutional_email))
    message["Subject"] = " ".join(
        render_to_string("mail/webmail_welcome_subject.txt", context).split()
    )
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = make_msgid(domain=settings.MAIL_FROM.rpartition("@")[2])
    message.set_content(render_to_string("mail/webmail_welcome.txt", context))
    return message.as_bytes(policy=email.policy.SMTP)


def demo_mailboxes_seed(students: list[Student]) -> int:
    """Put the welcome message in every empty demo INBOX; returns how many were seeded."""
    if settings.MAIL_BACKEND != "local":
        return 0
    store = LocalStore()
    seeded = 0
    for student in students:
        address = student.institutional_email
        if store.messages(address, INBOX, page_size=1).total == 0:
            store.add(address, INBOX, welcome_message(student))
            seeded += 1
    return seeded


def demo_receiver_start() -> ReceiverController:
    """Start the receiver in a thread (raises ``OSError``/``RuntimeError`` if the port is taken)."""
    controller = receiver_controller()
    controller.start()
    return controller
