"""Sessions in the database (no ``ENT_CACHE_URL``), written once per login instead of three times.

Django's database store, with three round trips fewer on the path every login takes
(``login`` → ``cycle_key``, then the response's save):

- A new key is not checked with ``SELECT … exists()`` first. The key is 160 random bits from
  ``secrets``, written as 32 lowercase base32 characters, all in Django's alphabet for keys
  (Django draws its 32 characters one by one, which cost 0.1 ms per login). The INSERT that
  stores it is the real uniqueness check (the primary key), and ``create()`` already retries
  with another key when that INSERT says it exists (``CreateError``). The INSERT is ``ON CONFLICT DO NOTHING``, so a collision is told by the
  row count, without a savepoint to survive an IntegrityError inside the caller's transaction.
- ``cycle_key`` (the new key at login, against session fixation) only chooses the key; the
  row is inserted once, with the session's data, by the next ``save()`` — instead of an
  INSERT of an empty session and an UPDATE of the same row a moment later. The old key is
  still deleted at once. Because the new key may already be written elsewhere (the session
  index, ``AccountSession``) before that INSERT, a collision there is not retried under
  another key: it raises (once in 2**160 logins).
- A ``save()`` of exactly the data this store last wrote writes nothing (the login view saves
  the session inside its transaction; the response's save then has nothing to add).

``fresh_key`` tells the session index that no row can refer to the key yet, so it inserts
instead of ``update_or_create`` (``ent.accounts.sessions``).
"""

from __future__ import annotations

import base64
import secrets

from django.contrib.sessions.backends.base import CreateError
from django.contrib.sessions.backends.db import SessionStore as DBSessionStore
from django.db import connections, router


class SessionStore(DBSessionStore):
    """Django's database session store, with fewer round trips (see the module)."""

    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        self.fresh_key = False  # the key was made by this store and no row refers to it yet
        self._insert_pending = False  # chosen by cycle_key, not written yet
        self._written: tuple[str, bytes] | None = None  # (key, serialized data) last written

    def _get_new_session_key(self) -> str:
        # No exists() query: the INSERT is the uniqueness check (see the module).
        return base64.b32encode(secrets.token_bytes(20)).decode("ascii").lower()

    def create(self) -> None:
        while True:
            self._session_key = self._get_new_session_key()
            self._insert_pending = False
            try:
                self._insert()
            except CreateError:
                continue
            self.modified = True
            self.fresh_key = True
            return

    def cycle_key(self) -> None:
        data = self._session  # type: ignore[attr-defined]
        old = self.session_key
        self._session_key = self._get_new_session_key()
        self._session_cache = data
        self._insert_pending = True
        self.fresh_key = True
        self.modified = True
        if old:
            self.delete(old)

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            self.create()
        elif must_create or self._insert_pending:
            # After cycle_key, a collision raises CreateError rather than taking another key:
            # the key may already be recorded (the session index).
            self._insert()
        elif self._written != (self.session_key, self._serialized()):
            super().save(must_create=False)
            self._written = (self.session_key, self._serialized())

    def _serialized(self) -> bytes:
        return self.serializer().dumps(self._get_session())  # type: ignore[attr-defined,no-any-return]

    def _insert(self) -> None:
        """INSERT the session, or CreateError if its key exists (no savepoint needed)."""
        key = self.session_key
        assert key is not None
        data = self._get_session(no_load=True)  # type: ignore[attr-defined]
        using = router.db_for_write(self.model)
        connection = connections[using]
        table = connection.ops.quote_name(self.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (session_key, session_data, expire_date)"  # noqa: S608 (the model's own table)
                " VALUES (%s, %s, %s) ON CONFLICT (session_key) DO NOTHING",
                [
                    key,
                    self.encode(data),
                    connection.ops.adapt_datetimefield_value(self.get_expiry_date()),
                ],
            )
            if cursor.rowcount != 1:
                raise CreateError
        self._insert_pending = False
        self._written = (key, self.serializer().dumps(data))

    def delete(self, session_key: str | None = None) -> None:
        # One DELETE, instead of Django's SELECT then DELETE (sessions have no relations and
        # no delete signals to honour).
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        rows = self.model.objects.filter(session_key=session_key)
        rows._raw_delete(rows.db)
        if self._written is not None and self._written[0] == session_key:
            self._written = None

    def flush(self) -> None:
        super().flush()
        self._insert_pending = False
        self.fresh_key = False
