"""Reading a student-information-system export (CSV) into checked rows.

Exports come from Apogée, Pégase or a spreadsheet: header row required, ``,``, ``;`` or tab,
UTF-8 with or without BOM, UTF-16 with BOM, or Latin-1 (Windows-1252), dates as ``YYYY-MM-DD`` or
``DD/MM/YYYY``, column names in English or French. Parsing is separate from writing so that a
bad row is reported with its line number and the good rows still go in.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext as _

from .identifiers import (
    has_control_characters,
    is_valid_ine,
    is_valid_student_number,
    normalise_ine,
    normalise_student_number,
)

FIELDS = ("student_number", "ine", "last_name", "first_name", "birth_date", "program")
REQUIRED = ("student_number", "ine", "last_name", "first_name", "birth_date")
ALIASES = {
    "student_number": "student_number",
    "numero_etudiant": "student_number",
    "num_etudiant": "student_number",
    "numero": "student_number",
    "ine": "ine",
    "code_ine": "ine",
    "last_name": "last_name",
    "nom": "last_name",
    "first_name": "first_name",
    "prenom": "first_name",
    "birth_date": "birth_date",
    "date_naissance": "birth_date",
    "date_de_naissance": "birth_date",
    "program": "program",
    "programme": "program",
    "formation": "program",
}
MAX_NAME = 150
MAX_PROGRAM = 200


class ImportFileError(Exception):
    """The file as a whole cannot be read (encoding, header)."""


@dataclass(frozen=True)
class Row:
    """One good row, normalised."""

    line: int
    student_number: str
    ine: str
    last_name: str
    first_name: str
    birth_date: date
    program: str


@dataclass(frozen=True)
class RowError:
    """One bad row: its line in the file and why it was refused."""

    line: int
    reason: str


def decode(data: bytes) -> str:
    """UTF-8 (BOM or not), UTF-16 with its BOM, else Windows-1252, else Latin-1 (which never
    fails).

    UTF-16 is what a spreadsheet writes as "Unicode text": without this its NUL bytes made the
    file look binary.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ImportFileError(
                _("Le fichier commence comme un fichier UTF-16 mais n'en est pas un.")
            ) from None
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte string")  # pragma: no cover


def _header_key(name: str) -> str:
    text = unicodedata.normalize("NFKD", name.strip().lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return "_".join(text.replace("-", " ").replace(".", " ").split())


_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_FR_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def parse_date(raw: str) -> date | None:
    """``YYYY-MM-DD`` or ``DD/MM/YYYY``, None otherwise.

    Regular expressions rather than ``strptime``, which cost a third of a 100,000-row import.
    """
    text = raw.strip()
    try:
        if m := _ISO_DATE.fullmatch(text):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := _FR_DATE.fullmatch(text):
            return date(int(m[3]), int(m[2]), int(m[1]))
    except ValueError:  # 31/02/2004
        return None
    return None


def read_rows(data: bytes, *, today: date) -> Iterator[Row | RowError]:
    """Yield a ``Row`` or a ``RowError`` for each data line of the file."""
    text = decode(data)
    if "\x00" in text:
        raise ImportFileError(_("Le fichier n'est pas un fichier CSV (contenu binaire)."))
    first_line = text.split("\n", 1)[0]
    # "," or ";", or a tab (a spreadsheet's "Unicode text"): whichever the header uses most.
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError(_("Le fichier est vide.")) from None
    except csv.Error as exc:
        raise ImportFileError(_("Ligne d'en-tête illisible : %(e)s") % {"e": exc}) from None
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        field = ALIASES.get(_header_key(name))
        if field is not None and field not in columns:
            columns[field] = index
    missing = [f for f in REQUIRED if f not in columns]
    if missing:
        raise ImportFileError(
            _("Colonnes manquantes dans l'en-tête : %(cols)s (colonnes attendues : %(all)s)")
            % {"cols": ", ".join(missing), "all": ", ".join(FIELDS)}
        )
    while True:
        # The line a record starts on: ``line_num`` is where it ended, which is further down
        # when a quoted field holds a line break, and the report must name the right line.
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RowError(start, _("ligne CSV illisible : %(e)s") % {"e": exc})
            continue
        if not any(v.strip() for v in values):
            continue  # blank line
        yield _check(start, values, columns, today)


def _check(line: int, values: list[str], columns: dict[str, int], today: date) -> Row | RowError:
    def get(field: str) -> str:
        index = columns.get(field)
        if index is None or index >= len(values):
            return ""
        return values[index].strip()

    for field in REQUIRED:
        if not get(field):
            return RowError(line, _("champ manquant : %(field)s") % {"field": field})
    number = normalise_student_number(get("student_number"))
    if not is_valid_student_number(number):
        return RowError(
            line,
            _("numéro étudiant invalide : %(v)r (lettres et chiffres, 32 au plus)") % {"v": number},
        )
    ine = normalise_ine(get("ine"))
    if not is_valid_ine(ine):
        return RowError(
            line,
            _("INE invalide : %(v)r (11 lettres ou chiffres terminés par une lettre)") % {"v": ine},
        )
    birth = parse_date(get("birth_date"))
    if birth is None:
        return RowError(
            line,
            _("date de naissance invalide : %(v)r (AAAA-MM-JJ ou JJ/MM/AAAA)")
            % {"v": get("birth_date")},
        )
    if birth.year < 1900 or birth > today:
        return RowError(line, _("date de naissance impossible : %(v)s") % {"v": birth.isoformat()})
    last, first, program = get("last_name"), get("first_name"), get("program")
    if len(last) > MAX_NAME or len(first) > MAX_NAME:
        return RowError(line, _("nom ou prénom trop long (150 caractères au plus)"))
    if len(program) > MAX_PROGRAM:
        return RowError(line, _("formation trop longue (200 caractères au plus)"))
    if any(has_control_characters(v) for v in (last, first, program)):
        # Beyond line breaks and NUL: tabs, escapes, bidirectional overrides, zero-width
        # characters (see ``has_control_characters``).
        return RowError(
            line,
            _("saut de ligne ou caractère de contrôle dans le nom, le prénom ou la formation"),
        )
    return Row(line, number, ine, " ".join(last.split()), " ".join(first.split()), birth, program)
