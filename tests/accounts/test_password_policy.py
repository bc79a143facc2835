"""The university's password rules, each one."""

from __future__ import annotations

from typing import Any

import pytest

from ent.accounts import password_policy
from ent.accounts.password_policy import check

GOOD = "Ent.Perpignan2026"


def test_good_password() -> None:
    assert check(GOOD) == []


def test_minimum_length() -> None:
    assert any("au moins 8" in p for p in check("Ab1!xyz"))
    assert check("Ab1!xyzw") == []


@pytest.mark.parametrize("special", list("!.@#+:<>$%"))
def test_each_allowed_special(special: str) -> None:
    # lower + digit + this special = 3 kinds
    assert check(f"ensoleil{special}7q") == []


@pytest.mark.parametrize(
    ("char", "named"),
    [
        (" ", "espace"),
        ("é", "« é »"),
        ("€", "« € »"),
        (";", "« ; »"),
        ("-", "« - »"),
        ("\u200b", "U+200B"),
    ],
)
def test_forbidden_characters_are_named(char: str, named: str) -> None:
    problems = check(f"Ensoleil7{char}x")
    assert any("non autorisé" in p and named in p for p in problems), problems


def test_three_kinds_of_four() -> None:
    assert any("3 types" in p for p in check("ensoleillement"))  # 1 kind
    assert any("3 types" in p for p in check("ensoleil2026x"))  # 2 kinds
    assert check("Ensoleil2026x") == []  # upper, lower, digit
    assert check("ensoleil.2026") == []  # lower, digit, special
    assert check("ENSOLEIL.ETE!") != []  # upper + special only


def test_maximum_length() -> None:
    assert any("128" in p for p in check("Aa1." * 33))
    assert check("Aa1." * 32) == []


def test_common_password_refused() -> None:
    assert any("courant" in p for p in check("Password1"))


@pytest.mark.parametrize("value", ["21000001", "123456789AB", "Blaise", "Pascal"])
def test_personal_data_refused(value: str) -> None:
    personal = ["21000001", "123456789AB", "Blaise", "Pascal"]
    password = f"Xy.{value}9"
    assert any("numéro étudiant" in p for p in check(password, personal=personal))
    assert check("Xy.Ensoleil9", personal=personal) == []


def test_personal_data_ignores_accents_and_case() -> None:
    assert check("Xy.helene9q", personal=["Hélène"]) != []


def test_rules_are_settings(settings: Any) -> None:
    settings.PASSWORD_MIN_LENGTH = 12
    settings.PASSWORD_MIN_CLASSES = 4
    settings.PASSWORD_SPECIALS = "!?"
    assert any("au moins 12" in p for p in check("Ensoleil.2026x"[:11]))
    assert any("4 types" in p for p in check("Ensoleil2026x"))
    assert any("« . »" in p for p in check("Ensoleil.2026x!"))
    assert check("Ensoleil?2026x") == []
    assert password_policy.rules().specials == "!?"
