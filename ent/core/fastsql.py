"""Statements of the hot paths without building their SQL on every call.

A sign-in, a CAS validation or a token exchange reads and writes a few rows, and Django's
query compiler cost more CPU than the statements themselves (about 0.4 ms to build an INSERT
or a SELECT with a join here, against 0.05 ms to run it).

- ``insert`` writes the statement once per model and database from the model's metadata (so
  it follows the migrations) and adapts each value as ``save()`` would (``pre_save`` then
  ``get_db_prep_save``: auto_now dates, JSON, token checksums). It sends no model signals:
  use it only for models nothing listens to (``grep post_save`` says which).
- ``select`` compiles a queryset once, with placeholders (``Arg``) where the values go, and
  runs the same SQL with other values afterwards; what it returns is what the queryset would
  (instances with their ``select_related`` objects, or ``values_list`` tuples).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model, QuerySet
from django.db.models.query import (  # type: ignore[attr-defined]
    ValuesListIterable,
    get_related_populators,
)


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
        self.pk_column = meta.pk.column
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


class Arg(str):
    """A placeholder for ``select``: the queryset is built with ``Arg(0)``, ``Arg(1)``… as
    filter values (strings, so text columns take them unchanged), and each is replaced by the
    value given at run time. Lookups that rewrite the value itself (``contains``,
    ``startswith``…) are refused when the statement is compiled; ``exact`` and ``iexact``
    (whose SQL does the work) are fine."""

    __slots__ = ()

    def __new__(cls, position: int) -> Arg:
        return super().__new__(cls, f"\x00fastsql-argument-{position}\x00")


class _Select:
    """A queryset's SELECT compiled once, as ``QuerySet.__iter__`` would run it."""

    def __init__(self, queryset: QuerySet[Any], connection: BaseDatabaseWrapper) -> None:
        compiler = queryset.query.get_compiler(connection=connection)
        self.sql, params = compiler.as_sql()
        arguments = {str(Arg(i)): i for i in range(len(params))}
        self.params = list(params)
        # (position in the statement's parameters, index of the value given to run())
        self.slots = [
            (position, arguments[p])
            for position, p in enumerate(params)
            if isinstance(p, str) and p in arguments
        ]
        # An Arg that its lookup rewrote (contains, startswith…) would match nothing: refuse it.
        marker = "\x00fastsql-argument-"
        if marker in self.sql or any(
            isinstance(p, str) and marker in p and p not in arguments for p in params
        ):
            raise ValueError(f"fastsql.select: an Arg was changed by its lookup: {self.sql}")
        self.arity = len({index for _position, index in self.slots})
        self.model = queryset.model
        fields = [s[0] for s in compiler.select[: compiler.col_count]]
        self.converters = list(compiler.get_converters(fields).items())
        self.flat_values = queryset._iterable_class is ValuesListIterable
        if not self.flat_values:
            # As ModelIterable: the model's own columns, then each select_related object's.
            assert not compiler.annotation_col_map, "annotations are not supported here"
            assert not queryset._known_related_objects, "nor known related objects"  # type: ignore[attr-defined]
            klass_info = compiler.klass_info
            start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
            self.span = slice(start, end)
            self.init_list = [f[0].target.attname for f in compiler.select[start:end]]
            self.related = get_related_populators(klass_info, compiler.select, connection.alias)

    def run(self, values: Sequence[Any], connection: BaseDatabaseWrapper) -> list[Any]:
        if len(values) != self.arity:
            raise TypeError(f"fastsql.select: {self.arity} values expected, {len(values)} given")
        params = list(self.params)
        for position, index in self.slots:
            params[position] = values[index]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if self.converters:
            rows = [self._convert(list(row), connection) for row in rows]
        if self.flat_values:
            return [tuple(row) for row in rows]
        objects = []
        for row in rows:
            obj = self.model.from_db(connection.alias, self.init_list, row[self.span])
            for populator in self.related:
                populator.populate(row, obj)
            objects.append(obj)
        return objects

    def _convert(self, row: list[Any], connection: BaseDatabaseWrapper) -> list[Any]:
        for position, (converters, expression) in self.converters:
            value = row[position]
            for converter in converters:
                value = converter(value, expression, connection)
            row[position] = value
        return row


# Compiled SELECTs by (name, database alias, vendor); a few entries, written once each.
_selects: dict[tuple[str, str, str], _Select] = {}


def select(
    model: type[Model], name: str, build: Callable[[], QuerySet[Any]], *values: Any
) -> list[Any]:
    """The rows of the queryset ``build()`` (of ``model``) with ``Arg(i)`` replaced by
    ``values[i]``.

    ``build`` is called once per ``name`` and database: it must always give the same query
    (the same filters, the same number of ``Arg``), only the values change. A model queryset
    gives its instances (with their ``select_related`` objects), ``values_list`` its tuples.
    """
    connection = connections[router.db_for_read(model)]
    key = (name, connection.alias, connection.vendor)
    statement = _selects.get(key)
    if statement is None:
        statement = _selects[key] = _Select(build().using(connection.alias), connection)
    return statement.run(values, connection)


def delete(model: type[Model], pk: Any) -> int:
    """Delete one row by primary key (no cascade, no signals); returns how many rows went."""
    connection = connections[router.db_for_write(model)]
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        table, column = qn(model._meta.db_table), qn(model._meta.pk.column)
        cursor.execute(f"DELETE FROM {table} WHERE {column} = %s", [pk])  # noqa: S608
        return int(cursor.rowcount)


class _DeleteInsert:
    """Delete one row by primary key and, only if it was there, insert an instance."""

    def __init__(self, deleted: type[Model], model: type[Model], connection: BaseDatabaseWrapper):
        qn = connection.ops.quote_name
        self.insert = _insert_statement(model, connection.alias, connection.vendor)
        table, column = qn(deleted._meta.db_table), qn(deleted._meta.pk.column)
        self.delete_sql = f"DELETE FROM {table} WHERE {column} = %s"  # noqa: S608
        self.one_statement = connection.vendor == "postgresql"
        if self.one_statement:
            # One round trip: the INSERT takes its row from the DELETE's, so it writes nothing
            # when the row to delete was already gone.
            columns = ", ".join(qn(f.column) for f in self.insert.fields)
            values = ", ".join(["%s"] * len(self.insert.fields))
            self.sql = (
                f"WITH gone AS ({self.delete_sql} RETURNING 1)"  # noqa: S608
                f" INSERT INTO {qn(self.insert.table)} ({columns}) SELECT {values} FROM gone"
            )

    def run(self, pk: Any, instance: Model, connection: BaseDatabaseWrapper) -> bool:
        if not self.one_statement:
            with connection.cursor() as cursor:
                cursor.execute(self.delete_sql, [pk])
                if not cursor.rowcount:
                    return False
            self.insert.run(instance, connection)
            return True
        values = [
            field.get_db_prep_save(field.pre_save(instance, True), connection)
            for field in self.insert.fields
        ]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [pk, *values])
            return bool(cursor.rowcount)


@functools.cache
def _delete_insert_statement(
    deleted: type[Model], model: type[Model], alias: str, vendor: str
) -> _DeleteInsert:
    return _DeleteInsert(deleted, model, connections[alias])


def delete_then_insert(model: type[Model], pk: Any, instance: Model) -> bool:
    """Delete the row ``pk`` of ``model`` and, if it existed, write ``instance`` (no signals).

    Returns whether the row was there (and so ``instance`` written). On PostgreSQL this is
    one statement; elsewhere a DELETE, then an INSERT if it removed a row. Both tables must be
    in the same database. The primary key of ``instance`` is not set afterwards.
    """
    connection = connections[router.db_for_write(model)]
    statement = _delete_insert_statement(model, type(instance), connection.alias, connection.vendor)
    return statement.run(pk, instance, connection)


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
