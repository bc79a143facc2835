"""``ent mail-receiver``: the SMTP/LMTP receiver of the local mail backend, in the foreground.

The university's MTA (Postfix: ``mailbox_transport = lmtp:inet:127.0.0.1:2525``, or a
``transport_maps`` entry for the student domain) hands mail for the student domain to it; it
stores it in the Maildir folders under ``ENT_MAIL_DIR`` and applies each student's forwarding
rule. ``make run`` starts the same receiver inside ``ent demo``.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ent.webmail.receiver import receiver_controller


class Command(BaseCommand):
    """Run the receiver until SIGTERM or Ctrl-C."""

    help = "Receive mail for the student domain over SMTP or LMTP (local mail backend)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=None, help="default: ENT_MAIL_RECEIVER_HOST")
        parser.add_argument(
            "--port", type=int, default=None, help="default: ENT_MAIL_RECEIVER_PORT"
        )
        parser.add_argument(
            "--protocol",
            choices=("smtp", "lmtp"),
            default=None,
            help="default: ENT_MAIL_RECEIVER_PROTOCOL",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.MAIL_BACKEND != "local":
            raise CommandError(
                "ent mail-receiver serves the local backend; with ENT_MAIL_BACKEND=dovecot,"
                " Dovecot's LMTP receives the mail"
            )
        controller = receiver_controller(
            host=options["host"], port=options["port"], protocol=options["protocol"]
        )
        try:
            controller.start()
        except (OSError, RuntimeError) as exc:
            raise CommandError(
                f"cannot listen on {controller.hostname}:{controller.port}: {exc}"
            ) from exc
        protocol = "LMTP" if controller.lmtp else "SMTP"
        self.stdout.write(
            f"Mail receiver ({protocol}) on {controller.hostname}:{controller.port},"
            f" domain {settings.STUDENT_MAIL_DOMAIN}, mailboxes under {settings.MAIL_DIR}"
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
            self.stdout.write("Mail receiver stopped.")
