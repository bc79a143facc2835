"""Writes that must outlive a refused request.

A view that runs its whole work in one transaction and rolls it back when the answer is a
refusal (the OIDC token endpoint does: nothing of a failed exchange may stay) would also roll
back what the refusal itself has to leave behind: the revocation of a replayed refresh token's
family, the revocation of the tokens of a replayed authorization code, an audit record of the
refusal, a throttle failure. Such a write is queued with ``outlive_refusal`` and runs, in a
transaction of its own, once the view's transaction is over (committed or rolled back): see
``refusal_scope``.

Outside a ``refusal_scope`` the write runs at once, in the caller's transaction (if any): code
that calls ``outlive_refusal`` outside such a scope must not roll its transaction back after a
refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

_pending: ContextVar[list[Callable[[], object]] | None] = ContextVar(
    "ent_core_durable_pending", default=None
)


def outlive_refusal(write: Callable[[], object]) -> None:
    """Run ``write`` so that a rollback of the current request's transaction cannot undo it."""
    pending = _pending.get()
    if pending is None:
        write()
    else:
        pending.append(write)


@contextmanager
def refusal_scope() -> Iterator[None]:
    """Collect the writes queued by ``outlive_refusal`` in the block; run them after it.

    Open it *outside* the transaction that a refusal rolls back. The writes run once the block
    is left, whether it ended normally or with an exception, each batch in one transaction of
    its own (committed, with the normal durability: a revocation must not be lost).
    """
    pending: list[Callable[[], object]] = []
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
        if pending:
            with transaction.atomic():
                for write in pending:
                    write()
