"""Django's PostgreSQL backend with a cheaper check of a kept connection.

With ``CONN_HEALTH_CHECKS`` (set in ``ent.settings``) Django checks a kept connection before
the first query of every request, and its PostgreSQL check is ``SELECT 1``: one round trip to
the server per request, as much as the single statement of a CAS ticket validation. Here the
check looks at the connection without sending anything:

- psycopg's own state: a connection that failed (``closed``, a bad status) or a transaction in
  error is unusable, as Django's check would find;
- the socket: between requests nothing may arrive on an idle connection unless the server
  ended it (a restart or ``pg_terminate_backend`` sends a FATAL error then closes, an idle
  timeout or a proxy closes) or sent a notice. If anything is waiting, Django's ``SELECT 1``
  decides (it reads the notice, or fails on a dead connection). A connection cut without a
  word from the server (a network partition) is not seen by either check before the query
  itself fails; the error page and ``close_if_unusable_or_obsolete`` then handle it.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql.base import DatabaseWrapper as _PostgresWrapper
from psycopg import pq


class DatabaseWrapper(_PostgresWrapper):
    """Django's PostgreSQL ``DatabaseWrapper``; only ``is_usable`` differs."""

    def is_usable(self) -> bool:
        """Whether the kept connection can serve queries, without a round trip if it can."""
        conn = self.connection
        if conn is None or conn.closed:
            return False
        info = conn.info
        if info.status != pq.ConnStatus.OK or info.transaction_status not in (
            pq.TransactionStatus.IDLE,
            pq.TransactionStatus.INTRANS,
        ):
            return False
        try:
            poller = select.poll()
            poller.register(conn.fileno(), select.POLLIN | select.POLLPRI)
            waiting = poller.poll(0)
        except (OSError, ValueError):
            return False
        if waiting:  # the server said something (or hung up): let a real query decide
            return bool(super().is_usable())
        return True
