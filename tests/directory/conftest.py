"""Fixtures of the directory tests: ``slapd``, a real OpenLDAP slapd started from
``docs/ldap/slapd.conf`` for the test (see ``tests/directory/slapd.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.directory.slapd import SlapdServer


@pytest.fixture
def slapd() -> Iterator[SlapdServer]:
    """A running slapd with the base entries; ``url``, ``bind_dn``, ``bind_password``,
    ``people_dn``; ``stop()``/``start()`` keep its data. Removed at teardown."""
    server = SlapdServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def directory(settings: Any, slapd: SlapdServer) -> SlapdServer:
    """ENT writing to the test slapd (``ENT_LDAP_URL`` and the rest pointed at it), with
    ENT's production hasher at its smallest memory cost, so the directory gets real argon2id
    hashes it can check."""
    settings.PASSWORD_HASHERS = ["ent.accounts.hashers.ENTArgon2PasswordHasher"]
    settings.ARGON2_MEMORY_COST = 8192
    settings.LDAP_URL = slapd.url
    settings.LDAP_STARTTLS = False
    settings.LDAP_BIND_DN = slapd.bind_dn
    settings.LDAP_BIND_PASSWORD = slapd.bind_password
    settings.LDAP_PEOPLE_DN = slapd.people_dn
    settings.LDAP_UID = "student_number"
    settings.EPPN_SCOPE = "univ-perp.fr"
    return slapd
