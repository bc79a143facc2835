"""``INSERT`` (and ``DELETE`` by key) of one row without building its SQL on every call.

A sign-in, a CAS validation or a token exchange writes a few rows, and Django's query
compiler cost more CPU than the statements themselves (about 0.4 ms to build an INSERT here,
against 0.05 ms to run it). ``insert`` writes the statement once per model and database from
the model's metadata (so it follows the migrations) and adapts each value as ``save()`` would
(``pre_save`` then ``get_db_prep_save``: auto_now dates, JSON, token checksums). It sends no
model signals: use it only for models nothing listens to (``grep post_save`` says which).
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model


class _Insert:
    """``INSERT`` of one instance of a model, as ``Model.save()`` would write it."""

    def __init__(self, model: type[Model], connection: BaseDatabaseWrapper):
        qn = connection.ops.quote_name
        meta = model._meta
        self.fields = [
            field for field in meta.local_concrete_fields if field is not meta.auto_field
        ]
        self.returning = connection.features.can_return_columns_from_insert
        self.table = meta.db_table
        self.pk_column = meta.pk.column  # type: ignore[union-attr]
        self.sql = (
            f"INSERT INTO {qn(self.table)} ({', '.join(qn(f.column) for f in self.fields)})"  # noqa: S608
            f" VALUES ({', '.join(['%s'] * len(self.fields))})"
        )
        if self.returning:
            self.sql += f" RETURNING {qn(self.pk_column)}"

    def run(self, instance: Model, connection: BaseDatabaseWrapper) -> None:
        # pre_save gives what save() would: auto_now(_add) dates, the token checksum of
        # RFC 9700 storage (TokenChecksumField); get_db_prep_save adapts each value.
        values = [
            field.get_db_prep_save(field.pre_save(instance, True), connection)
            for field in self.fields
        ]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, values)
            if self.returning:
                pk = cursor.fetchone()[0]
            else:
                pk = connection.ops.last_insert_id(cursor, self.table, self.pk_column)
        instance.pk = pk
        instance._state.adding = False
        instance._state.db = connection.alias


@functools.cache
def _insert_statement(model: type[Model], alias: str, vendor: str) -> _Insert:
    return _Insert(model, connections[alias])


def insert(instance: Model) -> None:
    """Write a new instance (no signals); its primary key is set afterwards."""
    model = type(instance)
    connection = connections[router.db_for_write(model)]
    _insert_statement(model, connection.alias, connection.vendor).run(instance, connection)


def delete(model: type[Model], pk: Any) -> int:
    """Delete one row by primary key (no cascade, no signals); returns how many rows went."""
    connection = connections[router.db_for_write(model)]
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        table, column = qn(model._meta.db_table), qn(model._meta.pk.column)  # type: ignore[union-attr]
        cursor.execute(f"DELETE FROM {table} WHERE {column} = %s", [pk])  # noqa: S608
        return int(cursor.rowcount)


def commit_without_flush() -> None:
    """Inside ``transaction.atomic()``: on PostgreSQL, let this transaction's COMMIT return
    before its WAL reaches the disk (``synchronous_commit`` off, for this transaction only).

    Locks and visibility are unchanged: other sessions see the commit at once. Only a crash
    of the database server within about 0.6 s (3 × ``wal_writer_delay``) can lose it. Use it
    only where such a loss is harmless or bounded: spending a short-lived code (it could be
    spent once more before it expires), writing tokens a client would then find unknown.
    Nothing on SQLite (no such setting; its commits are cheap here).
    """
    connection = transaction.get_connection()
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
