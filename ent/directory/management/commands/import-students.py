"""``ent import-students FILE.csv [--dry-run]``: load the student-information-system export."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation
from django.utils.translation import gettext as _
from tqdm import tqdm

from ent.core import clock
from ent.directory.importing import ImportFileError, read_rows
from ent.directory.services import students_import


class Command(BaseCommand):
    """Import (create or update) students from a CSV file."""

    help = (
        "Import students from a CSV export: columns student_number, ine, last_name, first_name,"
        " birth_date, program (or numero_etudiant, ine, nom, prenom, date_naissance, formation)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="CSV file (UTF-8 or Latin-1, ',' or ';')")
        parser.add_argument("--dry-run", action="store_true", help="check and count, write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        translation.activate("fr")
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(
                _("Impossible de lire %(p)s : %(e)s") % {"p": path, "e": exc.strerror},
                returncode=2,
            ) from None
        total_lines = max(data.count(b"\n"), 1)
        bar = tqdm(
            total=total_lines,
            unit=" lignes",
            disable=not sys.stderr.isatty(),
            file=sys.stderr,
            leave=False,
        )
        try:
            report = students_import(
                rows=read_rows(data, today=clock.now().date()),
                dry_run=options["dry_run"],
                progress=bar.update,
            )
        except ImportFileError as exc:
            raise CommandError(str(exc), returncode=2) from None
        finally:
            bar.close()
        for error in report.errors:
            self.stderr.write(
                _("ligne %(line)d : %(reason)s") % {"line": error.line, "reason": error.reason}
            )
        prefix = _("Simulation (rien n'a été écrit) : ") if report.dry_run else ""
        self.stdout.write(
            prefix
            + _(
                "%(total)d lignes lues : %(created)d créés, %(updated)d mis à jour,"
                " %(unchanged)d inchangés, %(errors)d en erreur."
            )
            % {
                "total": report.total,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "errors": len(report.errors),
            }
        )
        if report.errors:
            # The good rows are in; a non-zero status lets a nightly job report the bad ones.
            raise CommandError(
                _("%(n)d ligne(s) refusée(s), détail ci-dessus.") % {"n": len(report.errors)},
                returncode=1,
            )
