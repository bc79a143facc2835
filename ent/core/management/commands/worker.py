"""``ent worker``: send the queued mail (django-tasks-db's worker on the ``mail`` queue) and,
when ``ENT_LDAP_URL`` is set, write the waiting directory changes (``ent.directory.queue``)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ent.core.mail import mail_queue_run, mail_worker_run
from ent.core.workers import backgrounds


class Command(BaseCommand):
    """Run one mail worker; run several (on one or more machines) for more throughput.

    A thin wrapper around django-tasks-db's ``Worker``: it first re-queues the mails a killed
    worker left half-sent (``mail_queue_recover``, then every quarter of the lease), and stops
    gracefully on SIGTERM or SIGINT (the mail being sent is finished first; a second signal
    stops at once).
    """

    help = "Send the queued mail (ENT's mail queue, on the database); stop with SIGTERM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="seconds to wait when the queue is empty before looking again (default 1)",
        )
        parser.add_argument(
            "--worker-id", default=None, help="a name unique among the workers (default: random)"
        )
        parser.add_argument(
            "--batch",
            action="store_true",
            help="send what is ready now, then exit (cron, or a one-off after an outage)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        level = logging.DEBUG if options["verbosity"] > 1 else logging.INFO
        for name in ("django_tasks", "django_tasks_db", "ent.core.mail"):
            logging.getLogger(name).setLevel(level)
        if options["batch"]:
            ran = mail_queue_run()
            self.stdout.write(f"ent worker: {ran} mail task(s) run")
            for background in backgrounds():
                written = background.run_batch()
                self.stdout.write(f"ent worker: {written} {background.name} change(s) written")
            return
        interval = max(0.05, float(options["interval"]))
        # The other queues (the directory's, when ENT_LDAP_URL is set) in threads beside it.
        threads = [background.start() for background in backgrounds()]
        try:
            mail_worker_run(worker_id=options["worker_id"], interval=interval)
        finally:
            for thread in threads:
                thread.stop()
