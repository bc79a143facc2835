"""ENT's PostgreSQL backend (ent.core.postgresql): a kept connection is checked without a query.

PostgreSQL only: these tests are skipped on SQLite.
"""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend only"),
]


def test_an_idle_connection_is_usable_without_a_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    connection.ensure_connection()
    sent: list[str] = []
    original = psycopg.Connection.cursor

    def spy(self: psycopg.Connection, *args: object, **kwargs: object) -> object:
        sent.append("cursor")
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(psycopg.Connection, "cursor", spy)
    assert connection.is_usable()
    assert sent == []


def test_a_connection_the_server_ended_is_not_usable() -> None:
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with _other_connection() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while connection.is_usable() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not connection.is_usable()
    # At the next request Django closes it (close_if_health_check_failed) and reconnects.
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    assert connection.connection is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1


def _other_connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


def test_something_waiting_on_the_socket_is_checked_with_a_query() -> None:
    """A notification (or a notice) arriving between requests: Django's own check decides."""
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("LISTEN ent_test_channel")
    with _other_connection() as other:
        other.execute("NOTIFY ent_test_channel")
    time.sleep(0.2)
    assert connection.is_usable()
