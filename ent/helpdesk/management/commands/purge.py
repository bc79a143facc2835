"""``ent purge [--dry-run]``: remove expired codes, old audit records, departed students."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from ent.helpdesk.purge import purge


class Command(BaseCommand):
    """Apply the retention settings (run it daily from cron or a systemd timer)."""

    help = (
        "Remove expired codes, audit records older than ENT_AUDIT_RETENTION_MONTHS and"
        " never-activated students absent from the imports for ENT_PURGE_ABSENT_DAYS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be removed, remove nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = bool(options["dry_run"])
        report = purge(dry_run=dry_run)
        verb = "would remove" if dry_run else "removed"
        self.stdout.write(
            f"ent purge ({verb}; retention {settings.AUDIT_RETENTION_MONTHS} months,"
            f" absent students after {settings.PURGE_ABSENT_DAYS} days):"
        )
        for name, count in report.as_dict().items():
            self.stdout.write(f"  {name.replace('_', ' ')}: {count}")
