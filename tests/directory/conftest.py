"""Fixtures of the directory tests: ``slapd``, a real OpenLDAP slapd started from
``docs/ldap/slapd.conf`` for the test (see ``tests/directory/slapd.py``)."""

from __future__ import annotations

from collections.abc import Iterator

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
