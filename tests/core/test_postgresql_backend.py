"""ENT's PostgreSQL backend (ent.core.postgresql): a kept connection is checked without a query.

These tests open their own connection through ENT's backend to the machine's PostgreSQL, so
they run in the SQLite pass of the suite too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import dj_database_url
import psycopg
import pytest
from django.db.utils import ConnectionHandler

from tests.integration.instances import machine_postgres_url, postgres_database

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with postgres_database(machine_postgres_url()) as url:
        yield url


@pytest.fixture
def connection(database_url: str, django_db_blocker: Any) -> Iterator[object]:
    settings = dj_database_url.parse(database_url, conn_max_age=60, conn_health_checks=True)
    settings["ENGINE"] = "ent.core.postgresql"
    handler = ConnectionHandler({"default": settings})
    conn = handler["default"]
    with django_db_blocker.unblock():  # a connection of its own, not the suite's database
        try:
            yield conn
        finally:
            conn.close()


def _other_connection(connection: object) -> psycopg.Connection:
    params = connection.get_connection_params()  # type: ignore[attr-defined]
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


def test_an_idle_connection_is_usable_without_a_round_trip(
    connection: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection.ensure_connection()  # type: ignore[attr-defined]
    sent: list[str] = []
    original = psycopg.Connection.cursor

    def spy(self: psycopg.Connection, *args: object, **kwargs: object) -> object:
        sent.append("cursor")
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(psycopg.Connection, "cursor", spy)
    assert connection.is_usable()  # type: ignore[attr-defined]
    assert sent == []


def test_a_connection_the_server_ended_is_not_usable(connection: object) -> None:
    conn = connection
    conn.ensure_connection()  # type: ignore[attr-defined]
    with conn.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with _other_connection(conn) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while conn.is_usable() and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.05)
    assert not conn.is_usable()  # type: ignore[attr-defined]
    # At the next request Django closes it (close_if_health_check_failed) and reconnects.
    conn.health_check_done = False  # type: ignore[attr-defined]
    conn.close_if_health_check_failed()  # type: ignore[attr-defined]
    assert conn.connection is None  # type: ignore[attr-defined]
    with conn.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1


def test_something_waiting_on_the_socket_is_checked_with_a_query(connection: object) -> None:
    """A notification (or a notice) arriving between requests: Django's own check decides."""
    conn = connection
    conn.ensure_connection()  # type: ignore[attr-defined]
    with conn.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute("LISTEN ent_test_channel")
    with _other_connection(conn) as other:
        other.execute("NOTIFY ent_test_channel")
    time.sleep(0.2)
    assert conn.is_usable()  # type: ignore[attr-defined]
