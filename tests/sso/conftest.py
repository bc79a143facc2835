"""Fixtures of the single sign-on tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sso.oidc_helpers import OPEN_SESSIONS


@pytest.fixture(autouse=True)
def _close_http_sessions() -> Iterator[None]:
    """Close the ``requests`` sessions a test opened (see ``oidc_helpers.OPEN_SESSIONS``)."""
    yield
    while OPEN_SESSIONS:
        OPEN_SESSIONS.pop().close()
