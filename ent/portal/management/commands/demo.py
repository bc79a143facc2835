"""``ent demo``: migrate, load the demo students, print them, serve on ENT_BASE_URL.

It lives in ``portal``, the top app: it sets up every app below it (directory, SSO, help desk,
webmail), which ``core`` may not import.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ent.core.mail import mail_worker_thread
from ent.core.workers import backgrounds
from ent.directory.demo import DEMO_STUDENTS
from ent.directory.models import Student
from ent.directory.services import students_import
from ent.helpdesk.demo import DEMO_ADMIN, demo_admin_reset
from ent.sso.cas_demo import register_demo_cas_services
from ent.sso.demo_services import demo_services_start, edt_url, moodle_url
from ent.sso.models import Service
from ent.sso.oidc import DEMO_SLUG, oidc_secret_rotate, register_demo_oidc_client
from ent.webmail.demo import demo_mailboxes_seed, demo_receiver_start


class Command(BaseCommand):
    """Run ENT on its embedded defaults, with demo data."""

    help = "Migrate, load demo students and serve the demo (ENT_DEMO=1 only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="prepare only, do not serve")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO:
            raise CommandError("ent demo needs ENT_DEMO=1 (it loads demo data and the demo outbox)")
        call_command("migrate", interactive=False, verbosity=0)
        students_import(rows=DEMO_STUDENTS)
        register_demo_cas_services()
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"ENT demo — {settings.UNIVERSITY_NAME}"))
        self.stdout.write(f"  Open {settings.BASE_URL}/ and choose « Activer mon compte ».")
        self._students_show()
        self._mail_show()
        self.stdout.write(
            f"  Help desk: {settings.BASE_URL}/helpdesk/login  user {DEMO_ADMIN}"
            f"  password {demo_admin_reset()}  (new at each start; enrol a TOTP app at first sign-in)"
        )
        client_id, secret = self._oidc_client()
        self._mailboxes_seed()
        self.stdout.write(
            f"  Database: {settings.DATABASES['default']['NAME']}  (secret key kept under {settings.VAR_DIR})"
        )
        self.stdout.write("")
        if options["no_serve"]:
            return
        self._serve(client_id=client_id, secret=secret)

    def _students_show(self) -> None:
        self.stdout.write("  Demo students (numéro étudiant / code INE):")
        for row in DEMO_STUDENTS:
            student = Student.objects.select_related("account").get(
                student_number=row.student_number
            )
            state = getattr(getattr(student, "account", None), "state", "not activated")
            self.stdout.write(
                f"    {student.student_number} / {student.ine}  {student.full_name:<18}"
                f" {student.institutional_email}  [{state}]"
            )

    def _mail_show(self) -> None:
        if settings.EMAIL_BACKEND == "ent.core.mail.DemoOutboxBackend":
            self.stdout.write(f"  Mails are not sent: read them at {settings.BASE_URL}/demo/outbox")
        else:
            self.stdout.write(f"  Mails go to the relay of ENT_SMTP_URL ({settings.SMTP_URL})")

    def _oidc_client(self) -> tuple[str, str]:
        """The OpenID Connect demo client's id and secret.

        Its secret is stored as a digest only, so the demo gives it a new one at each start and
        hands it to the stand-in service.
        """
        client_id, secret = register_demo_oidc_client()
        if secret is None:
            secret = oidc_secret_rotate(service=Service.objects.get(slug=DEMO_SLUG))
        self.stdout.write(
            f"  Single sign-on: sign in, then open the tiles « Moodle » (CAS, {moodle_url()})"
            f" and « Emploi du temps » (OpenID Connect, {edt_url()}): stand-in services served"
            " by the demo, signed in without a second password"
        )
        return client_id, secret

    def _mailboxes_seed(self) -> None:
        """A welcome message in each empty demo INBOX."""
        demo_students = list(
            Student.objects.filter(student_number__in=[row.student_number for row in DEMO_STUDENTS])
        )
        seeded = demo_mailboxes_seed(demo_students)
        if settings.MAIL_BACKEND == "local":
            self.stdout.write(
                f"  Webmail: mailboxes under {settings.MAIL_DIR} ({seeded} welcome message(s) added);"
                f" mail to the student addresses: {settings.MAIL_RECEIVER_PROTOCOL.upper()}"
                f" {settings.MAIL_RECEIVER_HOST}:{settings.MAIL_RECEIVER_PORT}"
            )

    def _serve(self, *, client_id: str, secret: str) -> None:
        """The stand-in services, the mail receiver and worker, then the web server."""
        try:
            demo_services_start(
                ent_url=settings.BASE_URL, client_id=client_id, client_secret=secret
            )
        except OSError as exc:  # port taken: the demo still runs, without the stand-ins
            self.stderr.write(
                f"  Stand-in services not started (127.0.0.1:{settings.DEMO_SERVICES_PORT}:"
                f" {exc.strerror}; ENT_DEMO_SERVICES_PORT moves them)"
            )
        if settings.MAIL_BACKEND == "local":
            self._receiver_start()
        # The mail queue's worker, in a thread of this process (production runs `ent worker`).
        mail_worker_thread()
        for background in backgrounds():  # the directory writer, when ENT_LDAP_URL names one
            background.start()
        base = urlsplit(settings.BASE_URL)
        call_command(
            "runserver",
            f"{base.hostname}:{base.port or 80}",
            use_reloader=False,
            use_threading=True,
        )

    def _receiver_start(self) -> None:
        try:
            receiver = demo_receiver_start()
            self.stdout.write(
                f"  Mail receiver listening on {receiver.hostname}:{receiver.port}"
                f" ({settings.MAIL_RECEIVER_PROTOCOL.upper()})"
            )
        except (OSError, RuntimeError) as exc:  # port taken: the demo runs without it
            self.stderr.write(
                f"  Mail receiver not started ({settings.MAIL_RECEIVER_HOST}:"
                f"{settings.MAIL_RECEIVER_PORT}: {exc})"
            )
