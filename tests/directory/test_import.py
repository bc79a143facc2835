"""``ent import-students``: formats, bad rows, re-import, volume."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ent.accounts.models import Account
from ent.core.models import AuditEvent
from ent.directory.models import Student

HEADER = "student_number,ine,last_name,first_name,birth_date,program\n"


def run_import(path: Path, *args: str, refused: bool = False) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    if refused:
        with pytest.raises(CommandError) as excinfo:
            call_command("import-students", str(path), *args, stdout=out, stderr=err)
        assert excinfo.value.returncode == 1
        assert "refusée" in str(excinfo.value)
    else:
        call_command("import-students", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "students.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


pytestmark = pytest.mark.django_db


def test_good_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER
        + "21000001,123456789ab,Pascal,Blaise,2004-06-19,Licence Mathématiques\n"
        + "21000002, 234567890 BC ,Germain,Sophie,01/04/2005,Licence Physique\n",
    )
    out, err = run_import(path)
    assert "2 créés" in out and err == ""
    blaise = Student.objects.get(student_number="21000001")
    assert blaise.ine == "123456789AB"
    assert blaise.institutional_email == "blaise.pascal@etudiant.univ-perp.fr"
    sophie = Student.objects.get(student_number="21000002")
    assert sophie.ine == "234567890BC"  # spaces removed, upper case
    assert str(sophie.birth_date) == "2005-04-01"
    run = AuditEvent.objects.get(kind=AuditEvent.Kind.IMPORT_RUN)
    assert run.data == {"created": 2, "updated": 0, "unchanged": 0, "errors": 0}


def test_latin1_semicolon_french_headers(tmp_path: Path) -> None:
    text = (
        "numero_etudiant;ine;nom;prénom;date_naissance;formation\r\n"
        "21000003;345678901CD;Hélène;Éloïse;10/12/2003;Master Ingénierie\r\n"
    )
    out, _err = run_import(write(tmp_path, text, "latin-1"))
    assert "1 créés" in out
    s = Student.objects.get(student_number="21000003")
    assert (s.last_name, s.first_name, s.program) == ("Hélène", "Éloïse", "Master Ingénierie")
    assert s.institutional_email == "eloise.helene@etudiant.univ-perp.fr"


def test_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(
        b"\xef\xbb\xbf" + (HEADER + "21000004,4567890123D,Arago,François,2004-02-26,\n").encode()
    )
    out, _ = run_import(path)
    assert "1 créés" in out
    assert Student.objects.get(student_number="21000004").first_name == "François"


def test_bad_rows_reported_good_rows_imported(tmp_path: Path) -> None:
    text = (
        HEADER
        + "\n".join(
            [
                "21000001,123456789AB,Pascal,Blaise,2004-06-19,L1",  # line 2: good
                "21000002,12345,Germain,Sophie,2005-04-01,L1",  # 3: bad INE
                "21000003,123456789AB,Lovelace,Ada,2003-12-10,M1",  # 4: INE of line 2
                "21000004,4567890123D,,François,2004-02-26,L1",  # 5: missing last name
                "21000005,567890123EF,Curie,Marie,31/02/2004,L1",  # 6: bad date
                "21000001,678901234FG,Pascal,Blaise,2004-06-19,L1",  # 7: number repeated
                "21000006,12345678901,Noether,Emmy,2004-03-23,L1",  # 8: INE must end with a letter
            ]
        )
        + "\n"
    )
    out, err = run_import(write(tmp_path, text), refused=True)
    assert "1 créés" in out and "6 en erreur" in out
    lines = err.strip().splitlines()
    assert [line.split(" :")[0] for line in lines] == [f"ligne {n}" for n in (3, 4, 5, 6, 7, 8)]
    assert "INE invalide" in lines[0]
    assert "déjà attribué" in lines[1]
    assert "last_name" in lines[2]
    assert "date de naissance" in lines[3]
    assert "déjà présent ligne 2" in lines[4]
    assert Student.objects.count() == 1


def test_reimport_updates_names_never_accounts(tmp_path: Path) -> None:
    run_import(write(tmp_path, HEADER + "21000001,123456789AB,Pascal,Blaise,2004-06-19,L1\n"))
    student = Student.objects.get()
    account = Account.objects.create(
        username="21000001",
        student=student,
        state=Account.State.ACTIVE,
        personal_email="blaise@example.org",
    )
    account.set_password("Ent.Perpignan2026")
    account.save()
    password_hash = account.password
    address = student.institutional_email

    out, _ = run_import(
        write(tmp_path, HEADER + "21000001,123456789AB,Pascal-Durand,Blaise,2004-06-19,L2\n")
    )
    assert "1 mis à jour" in out
    student.refresh_from_db()
    account.refresh_from_db()
    assert (student.last_name, student.program) == ("Pascal-Durand", "L2")
    assert student.institutional_email == address  # stable
    assert account.password == password_hash
    assert account.personal_email == "blaise@example.org"
    assert account.state == Account.State.ACTIVE
    event = AuditEvent.objects.filter(kind=AuditEvent.Kind.IMPORT_UPDATED).get()
    assert event.data == {"fields": ["last_name", "program"]}

    out, _ = run_import(
        write(tmp_path, HEADER + "21000001,123456789AB,Pascal-Durand,Blaise,2004-06-19,L2\n")
    )
    assert "1 inchangés" in out


def test_homonyms_are_numbered(tmp_path: Path) -> None:
    text = HEADER + (
        "21000001,123456789AB,Pascal,Blaise,2004-06-19,\n"
        "21000002,234567890BC,Pascal,Blaise,2005-01-01,\n"
        "21000003,345678901CD,D'Alembert,Jean Le Rond,2005-01-01,\n"
        "21000004,4567890123D,Œuvrard,Zoé,2005-01-01,\n"
    )
    run_import(write(tmp_path, text))
    run_import(write(tmp_path, HEADER + "21000005,567890123EF,Pascal,Blaise,2005-01-01,\n"))
    emails = dict(Student.objects.values_list("student_number", "institutional_email"))
    assert emails["21000001"] == "blaise.pascal@etudiant.univ-perp.fr"
    assert emails["21000002"] == "blaise.pascal2@etudiant.univ-perp.fr"
    assert emails["21000005"] == "blaise.pascal3@etudiant.univ-perp.fr"
    assert emails["21000003"] == "jean-le-rond.dalembert@etudiant.univ-perp.fr"
    assert emails["21000004"] == "zoe.oeuvrard@etudiant.univ-perp.fr"


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    out, _ = run_import(
        write(tmp_path, HEADER + "21000001,123456789AB,Pascal,Blaise,2004-06-19,\n"), "--dry-run"
    )
    assert "Simulation" in out and "1 créés" in out
    assert Student.objects.count() == 0
    assert AuditEvent.objects.count() == 0  # the run's own record is rolled back too


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "vide"),
        (b"foo,bar\n1,2\n", "Colonnes manquantes"),
        (b"\x00\x01\x02binary", "binaire"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        run_import(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Impossible de lire"):
        run_import(tmp_path / "absent.csv")


@pytest.mark.slow
def test_ten_thousand_rows(tmp_path: Path) -> None:
    rows = [HEADER]
    for i in range(10_000):
        rows.append(f"3{i:07d},{i:09d}AB,Nom{i % 500},Prénom{i % 37},2004-01-01,Licence {i % 20}\n")
    path = write(tmp_path, "".join(rows))
    start = time.perf_counter()
    out, err = run_import(path)
    first = time.perf_counter() - start
    assert "10000 créés" in out and err == ""
    assert Student.objects.count() == 10_000
    assert Student.objects.values("institutional_email").distinct().count() == 10_000
    start = time.perf_counter()
    out, _ = run_import(path)
    again = time.perf_counter() - start
    assert "10000 inchangés" in out
    # Generous bounds: the real measurement is bench/ (100,000 rows); this catches a
    # per-row query creeping in (which would take minutes).
    assert first < 30 and again < 30


def test_last_seen_in_import_is_refreshed_daily(tmp_path: Path) -> None:
    from datetime import timedelta

    from ent.core import clock

    path = write(tmp_path, HEADER + "21000001,123456789AB,Pascal,Blaise,2004-06-19,\n")
    run_import(path)
    first = Student.objects.get().last_seen_in_import_at
    clock.advance(timedelta(hours=2))
    run_import(path)  # same day: not rewritten
    assert Student.objects.get().last_seen_in_import_at == first
    clock.advance(timedelta(days=1))
    run_import(path)
    assert Student.objects.get().last_seen_in_import_at > first + timedelta(days=1)


def test_exit_status_of_the_command(tmp_path: Path) -> None:
    """Run as a real process (on its own SQLite file, whatever the suite's database):
    0 all good, 1 some rows refused (the good ones imported), 2 unreadable file."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ent.settings_test",
        "ENT_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
    }

    def ent(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ent.manage", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    assert ent("migrate", "-v0").returncode == 0
    good = write(
        tmp_path, HEADER + "21000001,123456789AB,Pascal,Blaise,2004-06-19,\n", name="good.csv"
    )
    result = ent("import-students", str(good))
    assert result.returncode == 0 and "1 créés" in result.stdout
    mixed = write(
        tmp_path,
        HEADER
        + "21000002,234567890BC,Germain,Sophie,2005-04-01,\n21000003,bad,Lovelace,Ada,2003-12-10,\n",
        name="mixed.csv",
    )
    result = ent("import-students", str(mixed))
    assert result.returncode == 1
    assert "ligne 3 : INE invalide" in result.stderr and "1 créés" in result.stdout
    result = ent("import-students", str(tmp_path / "absent.csv"))
    assert result.returncode == 2 and "Impossible de lire" in result.stderr
