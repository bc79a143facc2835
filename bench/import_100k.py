"""Time ``ent import-students`` on 100,000 generated students (first import, then re-import).

Usage: ``ENT_DEMO=1 ENT_DATABASE_URL=... .venv/bin/python bench/import_100k.py``. The database
named by ENT_DATABASE_URL is used as is: point it at a throw-away one.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ent.settings")


def students_csv(directory: Path, count: int) -> Path:
    """Write ``count`` generated students (numbers 4xxxxxxx) as the SIS export; its path.
    Also used by ``bench/directory_100k.py``."""
    path = directory / "students.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("numero_etudiant;ine;nom;prenom;date_naissance;formation\n")
        for i in range(count):
            f.write(
                f"4{i:07d};{i:09d}AB;Nom{i % 5000};Prénom{i % 300};01/01/2004;Licence {i % 40}\n"
            )
    return path


def main(count: int = 100_000) -> None:
    """Write the file, import it twice, print the timings."""
    import django

    django.setup()
    from django.core.management import call_command

    from ent.directory.models import Student

    call_command("migrate", verbosity=0)
    Student.objects.all().delete()
    path = students_csv(Path(tempfile.mkdtemp()), count)
    for label in ("first import", "re-import (no change)"):
        start = time.perf_counter()
        call_command("import-students", str(path), stdout=sys.stderr)
        print(f"{label}: {time.perf_counter() - start:.2f} s for {count} rows")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
