"""Bad import files (issue 6): a clear error naming the line, and what the importer promises.

The promise (``ent.directory.services.students_import``): a file that cannot be read as a
whole (encoding, header) is refused and nothing is written; otherwise every bad row is reported
with its line number and every good row is written. Hypothesis builds files mixing good rows
and bad ones (control characters, missing or extra columns, bad dates, repeated student
numbers and INEs, huge fields, formula-like values) in several encodings and delimiters, and
checks exactly that: the lines reported are the bad ones, the students stored are the good
ones.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import given
from hypothesis import strategies as st

from ent.core.models import AuditEvent
from ent.directory.models import Student
from tests.bad_input import SETTINGS

pytestmark = pytest.mark.django_db

COLUMNS = ["student_number", "ine", "last_name", "first_name", "birth_date", "program"]


@dataclass
class Line:
    """One data line: its cells, and whether the importer must take it."""

    cells: list[str]
    good: bool


def _ine(n: int) -> str:
    return f"{n:09d}AB"


name = st.text(
    alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Zs"), max_codepoint=0x2FF)
    | st.sampled_from("-'’"),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip() and not s.strip().startswith(("=", "+", "@")))
BAD_NAMES = st.sampled_from(
    [
        "Pas\r\ncal",
        "Pas\ncal",
        "Blaise\x1b[31m",
        "Bl\x7faise",
        "\u202eBlaise",
        "Bla\u200bise",
        "Tab\there",
        "x" * 151,
    ]
)
BAD_DATES = st.sampled_from(
    [
        "31/02/2004",
        "2004-13-01",
        "0000-01-01",
        "1899-12-31",
        "2999-01-01",
        "hier",
        "19/06/04",
    ]
)


@st.composite
def lines(draw: st.DrawFn, n: int) -> Line:
    """A good line for student ``n``, or one broken in one way."""
    cells = [
        f"3{n:07d}",
        _ine(n),
        draw(name),
        draw(name),
        "2004-06-19",
        draw(st.sampled_from(["", "L1", "=cmd|' /C calc'!A0", "Licence Mathématiques"])),
    ]
    fault = draw(
        st.sampled_from(
            ["none", "none", "none", "name", "date", "ine", "number", "missing", "short", "extra"]
        )
    )
    if fault == "name":
        cells[draw(st.sampled_from([2, 3]))] = draw(BAD_NAMES)
    elif fault == "date":
        cells[4] = draw(BAD_DATES)
    elif fault == "ine":
        cells[1] = draw(st.sampled_from(["12345", "12345678901", "１２３456789AB"]))
    elif fault == "number":
        cells[0] = draw(st.sampled_from(["", "21 000", "２１０００", "x" * 33, "21000-1"]))
    elif fault == "missing":
        cells[draw(st.integers(0, 4))] = "   "
    elif fault == "short":
        cells = cells[:4]
    elif fault == "extra":
        return Line([*cells, "en trop", "encore"], True)
    return Line(cells, fault == "none")


def _csv_cell(value: str, delimiter: str) -> str:
    if any(c in value for c in f'"{delimiter}\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def run(path: Path) -> tuple[str, str, int]:
    """The command's output, errors and exit status."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import-students", str(path), stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue() + str(exc), exc.returncode
    return out.getvalue(), err.getvalue(), 0


@SETTINGS
@given(
    data=st.data(),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
    delimiter=st.sampled_from([",", ";", "\t"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    repeats=st.booleans(),
)
def test_bad_rows_are_named_and_good_rows_stored(
    tmp_path: Path, data: st.DataObject, encoding: str, delimiter: str, newline: str, repeats: bool
) -> None:
    Student.objects.all().delete()
    AuditEvent.objects.all().delete()
    base = data.draw(st.integers(0, 10**6), label="base")
    rows = [
        data.draw(lines(base + i), label=f"row {i}") for i in range(data.draw(st.integers(1, 8)))
    ]
    if repeats and rows[0].good:
        # The student number, then the INE, of a line already taken: both refused.
        rows.append(
            Line([rows[0].cells[0], _ine(base + 50), "Autre", "Ada", "2004-01-01", ""], False)
        )
        rows.append(
            Line([f"3{base + 60:07d}", rows[0].cells[1], "Autre", "Ada", "2004-01-01", ""], False)
        )
    text = delimiter.join(COLUMNS) + newline
    text += "".join(
        delimiter.join(_csv_cell(c, delimiter) for c in line.cells) + newline for line in rows
    )
    if encoding == "cp1252" and any(ord(c) > 0xFF for c in text):
        encoding = "utf-8"  # Windows-1252 bytes beyond Latin-1 could read as valid UTF-8
    payload = text.encode(encoding)
    path = tmp_path / "export.csv"
    path.write_bytes(payload)

    out, err, status = run(path)
    # A record starts on the line after the previous one ends (quoted line breaks included).
    starts, line_number = [], 2
    for line in rows:
        starts.append(line_number)
        line_number += 1 + len(re.findall(r"\r\n|\r|\n", "".join(line.cells)))
    bad_lines = [start for start, line in zip(starts, rows, strict=True) if not line.good]
    reported = sorted(
        int(part.split(" :")[0].removeprefix("ligne "))
        for part in err.splitlines()
        if part.startswith("ligne ")
    )
    assert reported == bad_lines, (reported, bad_lines, text)
    assert status == (1 if bad_lines else 0), (status, err)
    good_numbers = {line.cells[0] for line in rows if line.good}
    assert set(Student.objects.values_list("student_number", flat=True)) == good_numbers
    assert f"{len(good_numbers)} créés" in out and f"{len(bad_lines)} en erreur" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00\xd8", "UTF-16"),  # a BOM then a lone surrogate
        (b"\x00\x01\x02", "binaire"),
        ("numéro,nom\n1,x\n".encode(), "Colonnes manquantes"),
        (b'"student_number,ine\n', "Colonnes manquantes"),
        (b"\n\n\n", "Colonnes manquantes"),
    ],
)
def test_unreadable_files_write_nothing(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    _out, err, status = run(path)
    assert status == 2 and message in err, err
    assert Student.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_spreadsheet_unicode_text(tmp_path: Path) -> None:
    """What a spreadsheet saves as "Unicode text": UTF-16 with its BOM, tab-separated."""
    text = "\t".join(COLUMNS) + "\r\n" + "21000001\t123456789AB\tŒuvrard\tZoé\t19/06/2004\tL1\r\n"
    path = tmp_path / "unicode.txt"
    path.write_bytes(text.encode("utf-16"))
    out, err, status = run(path)
    assert status == 0 and "1 créés" in out, err
    assert Student.objects.get().institutional_email == "zoe.oeuvrard@etudiant.univ-perp.fr"


def test_long_names_give_a_deliverable_address(tmp_path: Path) -> None:
    """The bug this found: two 150-character names made a 323-character institutional address;
    PostgreSQL refused it (varchar 254) and the whole import failed with a traceback."""
    first, last = "Marie-" + "a" * 144, "Dupont-" + "b" * 143
    text = ",".join(COLUMNS) + "\n"
    text += f"21000001,123456789AB,{last},{first},2004-06-19,\n21000002,223456789AB,{last},{first},2004-06-19,\n"
    path = tmp_path / "long.csv"
    path.write_bytes(text.encode())
    out, err, status = run(path)
    assert status == 0 and "2 créés" in out, err
    addresses = sorted(Student.objects.values_list("institutional_email", flat=True))
    local_parts = [a.split("@")[0] for a in addresses]
    assert all(len(p) <= 64 for p in local_parts), local_parts
    assert local_parts[0] != local_parts[1] and any(p.endswith("2") for p in local_parts)


@pytest.mark.parametrize(
    "bad", ["Pas\x1bcal", "\u202eBlaise", "Bla\u200bise", "Bl\x7faise", "Tab\there"]
)
def test_control_characters_in_names_are_refused(tmp_path: Path, bad: str) -> None:
    """The bug this found: only CR, LF and NUL were refused."""
    text = ",".join(COLUMNS) + f"\n21000001,123456789AB,{bad},Blaise,2004-06-19,\n"
    path = tmp_path / "ctrl.csv"
    path.write_bytes(text.encode())
    _out, err, status = run(path)
    assert status == 1 and "ligne 2 : saut de ligne ou caractère de contrôle" in err, err
    assert Student.objects.count() == 0


def test_a_huge_field_is_one_bad_line(tmp_path: Path) -> None:
    text = ",".join(COLUMNS) + "\n"
    text += "21000001,123456789AB," + "x" * 200_000 + ",Blaise,2004-06-19,\n"
    text += "21000002,223456789AB,Germain,Sophie,2005-04-01,\n"
    path = tmp_path / "huge.csv"
    path.write_bytes(text.encode())
    out, err, status = run(path)
    assert status == 1 and "ligne 2 : ligne CSV illisible" in err and "1 créés" in out
    assert list(Student.objects.values_list("student_number", flat=True)) == ["21000002"]
    assert Student.objects.get().birth_date == date(2005, 4, 1)
