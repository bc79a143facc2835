"""``ent directory-sync [--dry-run] [--remove-unknown]``: reconcile ENT's LDAP branch."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ent.directory.ldap_client import DirectoryUnavailable
from ent.directory.sync import DirectoryNotConfigured, directory_sync


class Command(BaseCommand):
    """Compare every entry of ENT_LDAP_PEOPLE_DN with ENT's records and fix what differs."""

    help = (
        "Reconcile the LDAP branch ENT_LDAP_PEOPLE_DN with ENT's records: add the missing"
        " entries, fix the different ones (through the directory queue), report the entries"
        " ENT does not know. Nothing outside the branch is read or written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="report what differs, change nothing"
        )
        parser.add_argument(
            "--remove-unknown",
            action="store_true",
            help="remove the entries of the branch that are no student's",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = directory_sync(
                dry_run=options["dry_run"],
                remove_unknown=options["remove_unknown"],
                out=self.stdout,
            )
        except DirectoryNotConfigured:
            raise CommandError(
                "No directory: ENT_LDAP_URL is not set (see docs/ldap/README.md).", returncode=1
            ) from None
        except DirectoryUnavailable as exc:
            raise CommandError(
                f"The directory cannot be reached: {exc}. Anything already queued is written"
                " by the worker once it is back.",
                returncode=1,
            ) from None
        for error in report.errors:
            self.stderr.write(f"error: {error}")
        attributes = ", ".join(f"{n} {c}" for n, c in sorted(report.attributes.items()))
        verb = "would be" if report.dry_run else "were"
        self.stdout.write(
            ("Dry run (nothing changed): " if report.dry_run else "")
            + f"{report.in_step} in step, {report.missing} missing ({verb} added),"
            f" {report.different} different ({verb} fixed{': ' + attributes if attributes else ''}),"
            f" {report.unknown} unknown ({report.removed} removed), {len(report.errors)} errors."
        )
        if report.errors:
            raise CommandError(f"{len(report.errors)} error(s), detail above.", returncode=1)
