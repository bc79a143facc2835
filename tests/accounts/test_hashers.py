"""Passwords are stored with argon2id at the parameters of the settings."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import check_password, identify_hasher, make_password


def test_argon2id_with_owasp_parameters(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["ent.accounts.hashers.ENTArgon2PasswordHasher"]
    encoded = make_password("Ent.Perpignan2026")
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert check_password("Ent.Perpignan2026", encoded)
    assert not check_password("Ent.Perpignan2027", encoded)


def test_parameters_from_settings_and_upgrade(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["ent.accounts.hashers.ENTArgon2PasswordHasher"]
    settings.ARGON2_MEMORY_COST = 8192
    settings.ARGON2_TIME_COST = 3
    old = make_password("Ent.Perpignan2026")
    assert "m=8192,t=3,p=1" in old
    settings.ARGON2_MEMORY_COST = 19456
    settings.ARGON2_TIME_COST = 2
    assert identify_hasher(old).must_update(old)
