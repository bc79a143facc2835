"""The background writers that ``ent worker`` (and ``ent demo``) run beside the mail queue.

``core`` knows nothing of the apps above it, so each app that has a queue of its own registers
its writer here from its ``AppConfig.ready`` (the directory writer, ``ent.directory.queue``),
with the figures of its queue that ``/metrics`` exposes (``ent.core.metrics``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Stoppable(Protocol):
    """A writer running in a thread of this process."""

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the work in hand, then stop."""


@dataclass(frozen=True)
class Gauge:
    """One figure of a queue, read at scrape time: a Prometheus gauge's name, help and value."""

    name: str
    documentation: str
    value: float


@dataclass(frozen=True)
class Background:
    """One queue's writer: ``enabled`` says whether this deployment uses it; ``start`` runs it
    in a thread; ``run_batch`` writes what is due now, in the caller's thread (``--batch``),
    and returns how many items it wrote; ``stats``, when given, reads its queue's gauges
    (``/metrics``)."""

    name: str
    enabled: Callable[[], bool]
    start: Callable[[], Stoppable]
    run_batch: Callable[[], int]
    stats: Callable[[], list[Gauge]] | None = None


_registered: dict[str, Background] = {}


def background_register(writer: Background) -> None:
    """Register (or replace, by name) a writer."""
    _registered[writer.name] = writer


def backgrounds() -> list[Background]:
    """The registered writers this deployment uses."""
    return [w for w in _registered.values() if w.enabled()]
