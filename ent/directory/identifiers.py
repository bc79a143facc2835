"""Normalising and checking the identifiers of a student record."""

from __future__ import annotations

import re
import unicodedata

INE_RE = re.compile(r"[A-Z0-9]{10}[A-Z]")
STUDENT_NUMBER_RE = re.compile(r"[A-Za-z0-9]{1,32}")

# Letters NFKD does not decompose into ASCII.
_LIGATURES = str.maketrans(
    {
        "œ": "oe",
        "Œ": "oe",
        "æ": "ae",
        "Æ": "ae",
        "ß": "ss",
        "ø": "o",
        "Ø": "o",
        "đ": "d",
        "Đ": "d",
        "ł": "l",
        "Ł": "l",
        "þ": "th",
        "Þ": "th",
    }
)
_APOSTROPHES = re.compile(r"['’`´]")
_NOT_LOCAL = re.compile(r"[^a-z0-9]+")


def normalise_ine(raw: str) -> str:
    """Upper case, no spaces: " 123456789ab " -> "123456789AB"."""
    return "".join(raw.split()).upper()


def is_valid_ine(ine: str) -> bool:
    """11 letters or digits ending with a letter (9 digits + 2 letters since 2018,
    10 digits + 1 letter before; older BEA numbers mix letters and digits)."""
    return bool(INE_RE.fullmatch(ine))


def normalise_student_number(raw: str) -> str:
    """Student numbers are compared without surrounding spaces."""
    return raw.strip()


def is_valid_student_number(number: str) -> bool:
    """Letters and digits only, at most 32."""
    return bool(STUDENT_NUMBER_RE.fullmatch(number))


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a control or format character (Unicode categories Cc, Cf, Cs).

    Names and programmes reach mail bodies ("Bonjour <Prénom Nom>"), the help desk's pages and
    the attributes given to CAS and OpenID Connect services: a line break there can forge lines
    of a mail, an escape sequence can rewrite a terminal, a bidirectional override (U+202E) or a
    zero-width character makes a name read differently from what it is. No real name needs one.
    """
    return any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in text)


def fold_name(name: str) -> str:
    """A name as the local part of an address: "Jean-Étienne d'Ârc" -> "jean-etienne-darc"."""
    text = _APOSTROPHES.sub("", name.translate(_LIGATURES))
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return _NOT_LOCAL.sub("-", text).strip("-")
