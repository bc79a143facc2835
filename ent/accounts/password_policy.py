"""The password rules the university publishes ("Aide mot de passe"), as settings.

At least ``PASSWORD_MIN_LENGTH`` characters; allowed characters are upper-case letters,
lower-case letters, digits and the specials of ``PASSWORD_SPECIALS``; at least
``PASSWORD_MIN_CLASSES`` of these four kinds. Also refused: any other character (named in the
message), more than ``PASSWORD_MAX_LENGTH`` characters, a password that contains the student's
number, INE, first or last name, or that is on Django's list of 20,000 common passwords.

The checker, the live checklist of the forms and the documentation all read ``rules()``, so
they cannot disagree.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import CommonPasswordValidator
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
DIGITS = string.digits

_CHAR_NAMES = {
    " ": gettext_lazy("espace"),
    "\t": gettext_lazy("tabulation"),
    "\u00a0": gettext_lazy("espace insécable"),
}


@dataclass(frozen=True)
class CharClass:
    """One of the four kinds of characters."""

    key: str
    label: str
    chars: str


@dataclass(frozen=True)
class Rules:
    """The policy in force, read from the settings."""

    min_length: int
    max_length: int
    min_classes: int
    specials: str

    @property
    def classes(self) -> list[CharClass]:
        """The four kinds, with their labels in the current language."""
        return [
            CharClass("upper", _("Majuscules"), UPPER),
            CharClass("lower", _("Minuscules"), LOWER),
            CharClass("digit", _("Chiffres"), DIGITS),
            CharClass(
                "special",
                _("Caractères spéciaux : %(s)s") % {"s": " ".join(self.specials)},
                self.specials,
            ),
        ]

    @property
    def allowed(self) -> frozenset[str]:
        """Every character a password may contain."""
        return frozenset(UPPER + LOWER + DIGITS + self.specials)


def rules() -> Rules:
    """The rules of the settings."""
    return Rules(
        min_length=settings.PASSWORD_MIN_LENGTH,
        max_length=settings.PASSWORD_MAX_LENGTH,
        min_classes=settings.PASSWORD_MIN_CLASSES,
        specials=settings.PASSWORD_SPECIALS,
    )


def describe_char(char: str) -> str:
    """A forbidden character as a person can read it: « é », « espace », « U+200B »."""
    if char in _CHAR_NAMES:
        return str(_CHAR_NAMES[char])
    if not char.isprintable() or unicodedata.category(char).startswith(("Z", "C")):
        return f"U+{ord(char):04X}"
    return f"« {char} »"


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


@cache
def _common() -> CommonPasswordValidator:
    return CommonPasswordValidator()


def check(password: str, *, personal: Iterable[str] = ()) -> list[str]:
    """Every rule the password breaks, as messages for the person (empty = acceptable)."""
    r = rules()
    problems: list[str] = []
    if len(password) > r.max_length:
        problems.append(
            _("Le mot de passe ne doit pas dépasser %(n)d caractères.") % {"n": r.max_length}
        )
        return problems  # nothing else is worth checking on a huge input
    if len(password) < r.min_length:
        problems.append(
            ngettext(
                "Le mot de passe doit contenir au moins %(n)d caractère.",
                "Le mot de passe doit contenir au moins %(n)d caractères.",
                r.min_length,
            )
            % {"n": r.min_length}
        )
    forbidden = _forbidden_chars(password, r)
    if forbidden:
        problems.append(forbidden)
    kinds = sum(1 for k in r.classes if any(c in k.chars for c in password))
    if kinds < r.min_classes:
        problems.append(
            _(
                "Utilisez au moins %(n)d types de caractères différents parmi : majuscules,"
                " minuscules, chiffres, caractères spéciaux (vous en utilisez %(k)d)."
            )
            % {"n": r.min_classes, "k": kinds}
        )
    if _contains_personal(password, personal):
        problems.append(
            _(
                "Le mot de passe ne doit contenir ni votre numéro étudiant, ni votre INE,"
                " ni votre nom ou prénom."
            )
        )
    if not problems:
        try:
            _common().validate(password)
        except ValidationError:
            problems.append(
                _(
                    "Ce mot de passe est trop courant : il figure dans les listes que les attaquants essaient en premier."
                )
            )
    return problems


def _forbidden_chars(password: str, r: Rules) -> str:
    """The message naming every character outside the allowed ones, or "" if none."""
    forbidden = sorted({c for c in password if c not in r.allowed}, key=password.index)
    if not forbidden:
        return ""
    names = ", ".join(describe_char(c) for c in forbidden)
    return ngettext(
        "Caractère non autorisé : %(chars)s.",
        "Caractères non autorisés : %(chars)s.",
        len(forbidden),
    ) % {"chars": names}


def _contains_personal(password: str, personal: Iterable[str]) -> bool:
    """Whether the password contains one of the values (or a word of three letters or more of
    one), accents and case aside."""
    folded = _fold(password)
    for value in personal:
        for part in {value, *value.replace("-", " ").split()}:
            part = _fold(part.strip())
            if len(part) >= 3 and part in folded:
                return True
    return False


def personal_data_of(student: Any) -> list[str]:
    """What a student's password must not contain."""
    if student is None:
        return []
    return [student.student_number, student.ine, student.first_name, student.last_name]


class PolicyValidator:
    """The policy as a Django password validator (``ent createsuperuser``, admin forms)."""

    def validate(self, password: str, user: Any = None) -> None:
        personal = personal_data_of(getattr(user, "student", None)) if user is not None else []
        if user is not None and getattr(user, "username", None):
            personal.append(user.username)
        problems = check(password, personal=personal)
        if problems:
            raise ValidationError(problems)

    def get_help_text(self) -> str:
        r = rules()
        return _(
            "%(min)d caractères minimum ; au moins %(k)d types parmi majuscules, minuscules,"
            " chiffres et caractères spéciaux (%(s)s)."
        ) % {"min": r.min_length, "k": r.min_classes, "s": " ".join(r.specials)}
