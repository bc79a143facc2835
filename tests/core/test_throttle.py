"""Throttling policy (CNIL 2022-100 case 2), the same on both stores: database and Redis."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.db import connections

from ent.core import clock, throttle
from ent.core.models import ThrottleCounter
from tests.conftest import TEST_REDIS_URL

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy(settings: Any) -> throttle.Policy:
    settings.THROTTLE_FREE_FAILURES = 5
    settings.THROTTLE_BASE_DELAY = 60
    settings.THROTTLE_MAX_DELAY = 3600
    settings.THROTTLE_MAX_FAILURES_PER_DAY = 25
    return throttle.password_policy()


def _fail(policy: throttle.Policy, key: str, times: int) -> list[Any]:
    return [throttle.failure(policy, key) for _ in range(times)]


def test_free_failures_then_a_doubling_delay(shared_state: str, policy: throttle.Policy) -> None:
    assert _fail(policy, "21000001", 4) == [None] * 4
    assert throttle.retry_at(policy, "21000001") is None
    start = clock.now()
    first = throttle.failure(policy, "21000001")  # the 5th: a minute
    assert first is not None
    assert timedelta(seconds=59) < first - start < timedelta(seconds=61)
    assert throttle.retry_at(policy, "21000001") == first
    clock.advance(timedelta(seconds=61))
    assert throttle.retry_at(policy, "21000001") is None
    second = throttle.failure(policy, "21000001")  # the 6th: two minutes
    assert second is not None
    assert timedelta(seconds=119) < second - clock.now() < timedelta(seconds=121)
    # Another student number is not affected.
    assert throttle.retry_at(policy, "21000002") is None


def test_the_delay_stops_at_its_cap(shared_state: str, policy: throttle.Policy) -> None:
    for _ in range(12):
        blocked = throttle.failure(policy, "k")
    assert blocked is not None
    assert blocked - clock.now() <= timedelta(seconds=3600)
    assert blocked - clock.now() > timedelta(seconds=3590)


def test_success_ends_the_run_but_not_the_daily_count(
    shared_state: str, policy: throttle.Policy
) -> None:
    for _ in range(5):
        _fail(policy, "k", 4)
        throttle.success(policy, "k")
    assert throttle.retry_at(policy, "k") is None  # 20 failures, never 5 in a row
    blocked = _fail(policy, "k", 5)
    # The 25th failure of the day blocks until the day is over, whatever the run says.
    assert blocked[-1] is not None and blocked[-1] - clock.now() > timedelta(hours=23)


def test_the_daily_count_starts_again_after_a_day(
    shared_state: str, policy: throttle.Policy
) -> None:
    for _ in range(6):
        _fail(policy, "k", 4)
        throttle.success(policy, "k")
    assert throttle.failure(policy, "k") is not None  # the 25th: the cap is reached
    assert throttle.retry_at(policy, "k") is not None
    clock.advance(timedelta(hours=24, seconds=1))
    assert throttle.retry_at(policy, "k") is None
    assert throttle.failure(policy, "k") is None


def test_release_lifts_the_delay_and_keeps_the_count(
    shared_state: str, policy: throttle.Policy
) -> None:
    _fail(policy, "k", 7)
    assert throttle.retry_at(policy, "k") is not None
    throttle.release(policy, "k")
    assert throttle.retry_at(policy, "k") is None
    assert throttle.failure(policy, "k") is None  # the run starts again at 1
    _fail(policy, "k", 17)  # 7 + 1 + 17 = 25 in the day: blocked for the day
    blocked = throttle.retry_at(policy, "k")
    assert blocked is not None and blocked - clock.now() > timedelta(hours=23)


def test_success_and_release_of_an_unknown_key_create_nothing(
    shared_state: str, policy: throttle.Policy, settings: Any
) -> None:
    throttle.success(policy, "nobody")
    throttle.release(policy, "nobody")
    if shared_state == "redis":
        client = redis.Redis.from_url(TEST_REDIS_URL)
        assert list(client.scan_iter(match=f"{settings.CACHE_KEY_PREFIX}:*")) == []
    else:
        assert not ThrottleCounter.objects.exists()


def test_address_policy_has_no_delay_only_a_cap(shared_state: str, settings: Any) -> None:
    settings.THROTTLE_IP_FAILURES_PER_HOUR = 10
    policy = throttle.address_policy()
    assert _fail(policy, "192.0.2.7", 9) == [None] * 9
    blocked = throttle.failure(policy, "192.0.2.7")
    assert blocked is not None and timedelta(minutes=59) < blocked - clock.now() <= timedelta(
        hours=1
    )


def test_where_the_counters_live(shared_state: str, policy: throttle.Policy, settings: Any) -> None:
    """Redis mode keeps nothing in the database; database mode nothing in Redis."""
    throttle.failure(policy, "21000009")
    client = redis.Redis.from_url(TEST_REDIS_URL)
    keys = list(client.scan_iter(match=f"{settings.CACHE_KEY_PREFIX}:throttle:*"))
    if shared_state == "redis":
        assert len(keys) == 1 and not ThrottleCounter.objects.exists()
        assert client.ttl(keys[0]) > 24 * 3600  # forgotten only long after any decision
        assert b"21000009" not in keys[0]  # the key is hashed, as in the database
    else:
        assert keys == [] and ThrottleCounter.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_are_all_counted(shared_state: str, settings: Any) -> None:
    """Eight threads fail at once, five times each: all 40 failures count (cap at 40)."""
    settings.THROTTLE_IP_FAILURES_PER_HOUR = 40
    policy = throttle.address_policy()
    results: list[Any] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            for _ in range(5):
                outcome = throttle.failure(policy, "198.51.100.1")
                with lock:
                    results.append(outcome)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 40
    # Exactly the 40th failure reached the cap: no failure was lost to a race.
    assert sum(1 for r in results if r is not None) == 1
    assert throttle.retry_at(policy, "198.51.100.1") is not None


def test_a_weighted_failure_counts_several_and_remaining_says_how_many_are_left(
    shared_state: str,
) -> None:
    # The webmail counts every recipient of a message at once against its hourly limit.
    policy = throttle.Policy(
        scope="webmail-rcpt", window=timedelta(hours=1), max_failures_per_window=10
    )
    assert throttle.remaining(policy, "p1") == 10
    assert throttle.failure(policy, "p1", weight=4) is None
    assert throttle.remaining(policy, "p1") == 6
    assert throttle.failure(policy, "p1", weight=6) is not None  # the window is full
    assert throttle.remaining(policy, "p1") == 0
    assert throttle.remaining(policy, "p2") == 10
    clock.advance(timedelta(hours=1, seconds=1))
    assert throttle.remaining(policy, "p1") == 10


def test_read_gives_both_scopes_at_once(shared_state: str, policy: throttle.Policy) -> None:
    address = throttle.address_policy()
    _fail(policy, "21000009", 2)
    reading = throttle.read((policy, "21000009"), (address, "10.9.9.9"))
    assert reading.retry_at is None and reading.runs == (2, 0)
    for _ in range(5):
        throttle.failure(policy, "21000009")
    reading = throttle.read((policy, "21000009"), (address, "10.9.9.9"))
    assert reading.retry_at == throttle.retry_at(policy, "21000009") is not None
    assert reading.runs == (7, 0)


def test_read_is_one_query(policy: throttle.Policy, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        throttle.read((policy, "21000010"), (throttle.address_policy(), "10.9.9.9"))


def test_success_with_no_run_writes_nothing(
    policy: throttle.Policy, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        throttle.success(policy, "21000011", run=0)
    _fail(policy, "21000011", 2)
    throttle.success(policy, "21000011", run=2)
    assert throttle.read((policy, "21000011")).runs == (0,)
