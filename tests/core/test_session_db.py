"""The database session store (ent.core.session_db): Django's, with fewer round trips."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.sessions.backends.base import CreateError
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ent.core.session_db import SessionStore

pytestmark = pytest.mark.django_db


def _sql(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"].split()[0] for q in queries.captured_queries]


def test_create_inserts_without_asking_first() -> None:
    store = SessionStore()
    with CaptureQueriesContext(connection) as queries:
        store.create()
    assert _sql(queries) == ["INSERT"]
    assert Session.objects.filter(session_key=store.session_key).exists()
    assert store.fresh_key


def test_create_takes_another_key_when_the_insert_finds_one(monkeypatch: Any) -> None:
    taken = SessionStore()
    taken.create()
    keys = iter([taken.session_key, "b" * 32])
    monkeypatch.setattr(SessionStore, "_get_new_session_key", lambda self: next(keys))
    store = SessionStore()
    store.create()
    assert store.session_key == "b" * 32
    assert Session.objects.count() == 2


def test_cycle_key_writes_the_session_once_with_its_data() -> None:
    old = SessionStore()
    old["probe"] = 1
    old.save()
    store = SessionStore(old.session_key)
    assert store["probe"] == 1  # loaded (the SELECT of every request with a session)
    with CaptureQueriesContext(connection) as queries:
        store.cycle_key()
        store["user"] = "7"
        store.save()
        store.save()  # nothing new: nothing written
    assert _sql(queries) == ["DELETE", "INSERT"]
    assert store.session_key != old.session_key
    assert not Session.objects.filter(session_key=old.session_key).exists()
    assert SessionStore(store.session_key).load() == {"probe": 1, "user": "7"}
    store["user"] = "8"
    with CaptureQueriesContext(connection) as queries:
        store.save()
    assert "UPDATE" in _sql(queries)
    assert SessionStore(store.session_key).load()["user"] == "8"


def test_a_cycled_key_already_taken_is_refused_not_replaced(monkeypatch: Any) -> None:
    taken = SessionStore()
    taken.create()
    monkeypatch.setattr(SessionStore, "_get_new_session_key", lambda self: taken.session_key)
    store = SessionStore()
    store.cycle_key()
    store["user"] = "7"
    with pytest.raises(CreateError):
        store.save()
    assert SessionStore(taken.session_key).load() == {}


def test_new_keys_are_random_and_valid_for_django() -> None:
    from django.contrib.sessions.backends.base import VALID_KEY_CHARS

    keys = {SessionStore()._get_new_session_key() for _ in range(1000)}
    assert len(keys) == 1000
    assert all(len(k) == 32 and set(k) <= set(VALID_KEY_CHARS) for k in keys)
    # 160 bits: each of the 32 base32 positions takes all 32 values somewhere in 1,000 keys.
    assert all(len({k[i] for k in keys}) == 32 for i in range(32))
    key = next(iter(keys))
    assert SessionStore(key)._validate_session_key(key)
