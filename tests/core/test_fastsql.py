"""``ent.core.fastsql.select``: a queryset compiled once, run with other values; it must give
what the queryset gives (instances, related objects, converted values) on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from ent.core import clock, fastsql
from ent.core.models import ThrottleCounter
from ent.directory.models import Student

pytestmark = pytest.mark.django_db


def _fields(obj: Any) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def _by_number_built(calls: list[int]) -> Any:
    def build() -> QuerySet[Student]:
        calls.append(1)
        return (
            Student.objects.select_related("account")
            .filter(student_number=fastsql.Arg(0))
            .order_by("pk")[:1]
        )

    return build


def test_instances_and_their_related_objects_are_the_querysets(
    make_student: Any, active_student: Any
) -> None:
    pending = make_student(first_name="Hypatia")
    calls: list[int] = []
    name = "test-by-number"
    for student in (active_student, pending):
        (found,) = fastsql.select(Student, name, _by_number_built(calls), student.student_number)
        expected = Student.objects.select_related("account").get(pk=student.pk)
        assert _fields(found) == _fields(expected)
        assert found._state.adding is False and found._state.db == "default"
        if student == active_student:
            # The account came with the student, in the same statement.
            with CaptureQueriesContext(connection) as queries:
                assert _fields(found.account) == _fields(expected.account)
                assert found.account.check_password is not None
            assert queries.captured_queries == []
        else:
            assert getattr(found, "account", None) is None
    assert calls == [1], "built and compiled once"
    assert fastsql.select(Student, name, _by_number_built(calls), "nobody") == []


def test_values_are_parameters_not_sql(make_student: Any) -> None:
    student = make_student()
    hostile = f"{student.student_number}' OR '1'='1"
    assert fastsql.select(Student, "test-hostile", _by_number_built([]), hostile) == []


def test_values_list_rows_are_converted_as_the_orm_does() -> None:
    now = clock.now().replace(microsecond=123456)
    for i, (scope, until) in enumerate([("account", now + timedelta(minutes=5)), ("ip", None)]):
        ThrottleCounter.objects.create(
            scope=scope,
            key_hash=f"{i:064x}",
            consecutive_failures=i + 3,
            blocked_until=until,
            updated_at=now,
        )

    def build() -> QuerySet[ThrottleCounter, tuple[Any, ...]]:
        return ThrottleCounter.objects.filter(
            scope=fastsql.Arg(1), key_hash=fastsql.Arg(0)
        ).values_list("scope", "key_hash", "blocked_until", "consecutive_failures")

    for i, scope in enumerate(["account", "ip"]):
        rows = fastsql.select(ThrottleCounter, "test-counters", build, f"{i:064x}", scope)
        expected = list(
            ThrottleCounter.objects.filter(scope=scope).values_list(
                "scope", "key_hash", "blocked_until", "consecutive_failures"
            )
        )
        assert rows == expected
    assert rows[0][2] is None
    first = fastsql.select(ThrottleCounter, "test-counters", build, f"{0:064x}", "account")
    assert first[0][2] == now + timedelta(minutes=5)  # an aware datetime, microseconds kept


def test_an_argument_a_lookup_would_change_is_refused() -> None:
    def build() -> QuerySet[Student]:
        return Student.objects.filter(institutional_email__startswith=fastsql.Arg(0))

    with pytest.raises(ValueError, match="an Arg was changed by its lookup"):
        fastsql.select(Student, "test-startswith", build, "ada@etudiant.univ-perp.fr")


def test_the_number_of_values_is_checked(make_student: Any) -> None:
    with pytest.raises(TypeError, match="1 values expected, 2 given"):
        fastsql.select(Student, "test-by-number-arity", _by_number_built([]), "1", "2")


def test_delete_then_insert_writes_only_if_the_row_was_there(make_student: Any) -> None:
    """The spent-code write of the OIDC exchange: one statement on PostgreSQL, two elsewhere;
    of two calls for the same row, only the first deletes and inserts."""
    from ent.core.models import AuditEvent

    gone = make_student(first_name="Hypatia")

    def event(name: str) -> AuditEvent:
        return AuditEvent(at=clock.now(), kind=AuditEvent.Kind.LOGIN_OK, data={"n": name})

    with CaptureQueriesContext(connection) as queries:
        assert fastsql.delete_then_insert(Student, gone.pk, event("first"))
    assert len(queries) == (1 if connection.vendor == "postgresql" else 2)
    assert not fastsql.delete_then_insert(Student, gone.pk, event("second"))
    assert not Student.objects.filter(pk=gone.pk).exists()
    written = AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN_OK)
    assert list(written.values_list("data", flat=True)) == [{"n": "first"}]
