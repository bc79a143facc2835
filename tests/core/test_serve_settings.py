"""``ent serve`` refuses a bad process setting with one line, before starting gunicorn."""

from __future__ import annotations

import importlib

import pytest
from django.core.management import CommandError, call_command


@pytest.mark.parametrize(
    ("name", "value"),
    [("ENT_WORKERS", "0"), ("ENT_THREADS", "beaucoup"), ("ENT_WORKER_MAX_REQUESTS", "-1")],
)
def test_a_bad_value_is_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(CommandError, match=name):
        call_command("serve")


def test_threads_and_recycling_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import ent.gunicorn_conf as conf

    monkeypatch.setenv("ENT_THREADS", "6")
    monkeypatch.setenv("ENT_WORKER_MAX_REQUESTS", "0")
    conf = importlib.reload(conf)
    assert (conf.worker_class, conf.threads, conf.max_requests) == ("gthread", 6, 0)
    monkeypatch.delenv("ENT_THREADS")
    monkeypatch.delenv("ENT_WORKER_MAX_REQUESTS")
    conf = importlib.reload(conf)
    assert (conf.threads, conf.max_requests, conf.max_requests_jitter) == (8, 5000, 500)
