"""argon2 computations wait for a slot: one at a time per process by default."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, check_password, make_password

from ent.accounts import hashers


@pytest.fixture
def fresh_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashers, "_slots", None)


def _concurrency_seen(monkeypatch: pytest.MonkeyPatch, work: Any) -> int:
    running, most = 0, 0
    lock = threading.Lock()

    def slow(original: Any) -> Any:
        def wrapper(self: Any, *args: Any) -> Any:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            time.sleep(0.05)
            with lock:
                running -= 1
            return original(self, *args)

        return wrapper

    monkeypatch.setattr(Argon2PasswordHasher, "encode", slow(Argon2PasswordHasher.encode))
    monkeypatch.setattr(Argon2PasswordHasher, "verify", slow(Argon2PasswordHasher.verify))
    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return most


def test_one_hash_at_a_time_by_default(
    monkeypatch: pytest.MonkeyPatch, settings: Any, fresh_slots: None
) -> None:
    settings.PASSWORD_HASHERS = ["ent.accounts.hashers.ENTArgon2PasswordHasher"]
    encoded = make_password("Soleil.2026")
    assert _concurrency_seen(monkeypatch, lambda: check_password("Soleil.2026", encoded)) == 1
    assert _concurrency_seen(monkeypatch, lambda: make_password("Soleil.2026")) == 1


def test_the_setting_allows_more(
    monkeypatch: pytest.MonkeyPatch, settings: Any, fresh_slots: None
) -> None:
    settings.PASSWORD_HASHERS = ["ent.accounts.hashers.ENTArgon2PasswordHasher"]
    settings.ARGON2_CONCURRENCY = 2
    encoded = make_password("Soleil.2026")
    assert _concurrency_seen(monkeypatch, lambda: check_password("Soleil.2026", encoded)) == 2
