"""Writes that must outlive a refused request (ent.core.durable), and the rule checked over
the code base: no refusal is recorded inside a transaction block that the refusal then rolls
back (issue 13 §1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.db import transaction

from ent.core.audit import Kind, audit_record
from ent.core.durable import outlive_refusal, refusal_scope
from ent.core.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _record(reason: str) -> None:
    audit_record(kind=Kind.LOGIN_FAILED, reason=reason)


def test_queued_write_survives_the_rollback() -> None:
    with refusal_scope(), transaction.atomic():
        audit_record(kind=Kind.LOGIN_OK)  # the work of the request, undone below
        outlive_refusal(lambda: _record("refused"))
        assert not AuditEvent.objects.filter(kind=Kind.LOGIN_FAILED).exists()  # not yet
        transaction.set_rollback(True)
    assert list(AuditEvent.objects.values_list("kind", "data")) == [
        (Kind.LOGIN_FAILED, {"reason": "refused"})
    ]


def test_queued_write_survives_an_exception() -> None:
    with pytest.raises(RuntimeError), refusal_scope(), transaction.atomic():
        outlive_refusal(lambda: _record("crash"))
        raise RuntimeError
    assert AuditEvent.objects.filter(kind=Kind.LOGIN_FAILED).count() == 1


def test_queued_write_also_runs_after_a_commit() -> None:
    with refusal_scope(), transaction.atomic():
        audit_record(kind=Kind.LOGIN_OK)
        outlive_refusal(lambda: _record("after"))
    assert AuditEvent.objects.count() == 2


def test_outside_a_scope_the_write_runs_at_once() -> None:
    outlive_refusal(lambda: _record("now"))
    assert AuditEvent.objects.filter(kind=Kind.LOGIN_FAILED).count() == 1


def test_scopes_do_not_leak() -> None:
    with refusal_scope():
        pass
    outlive_refusal(lambda: _record("now"))  # no scope left open: at once
    assert AuditEvent.objects.count() == 1


# --- The rule, over the code base ---------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2] / "ent"
# Writes that record a refusal: a throttle failure, an audit record of a failure or refusal.
REFUSAL_KINDS = ("FAILED", "REJECTED", "THROTTLED", "REPLAYED", "UNKNOWN")


def _name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _is_refusal_write(call: ast.Call) -> bool:
    name = _name(call)
    if name in ("failure", "failed", "ine_failure"):
        return True
    if name != "audit_record":
        return False
    kind = next((k.value for k in call.keywords if k.arg == "kind"), None)
    return isinstance(kind, ast.Attribute) and any(word in kind.attr for word in REFUSAL_KINDS)


def _undoes(node: ast.AST) -> bool:
    return isinstance(node, ast.Raise) or (
        isinstance(node, ast.Call) and _name(node) == "set_rollback"
    )


def _atomic(node: ast.With) -> bool:
    return any(
        isinstance(item.context_expr, ast.Call) and _name(item.context_expr) == "atomic"
        for item in node.items
    )


def refusal_writes_rolled_back(source: str) -> list[int]:
    """Lines of refusal writes followed, in the same ``transaction.atomic()`` block, by a
    ``raise`` or ``set_rollback`` (which would undo them)."""
    found = []
    for block in ast.walk(ast.parse(source)):
        if not isinstance(block, ast.With) or not _atomic(block):
            continue
        writes = [n for n in ast.walk(block) if isinstance(n, ast.Call) and _is_refusal_write(n)]
        undo = [n.lineno for n in ast.walk(block) if _undoes(n)]
        found += [w.lineno for w in writes if any(line > w.lineno for line in undo)]
    return found


def test_the_checker_sees_the_pattern() -> None:
    bad = (
        "with transaction.atomic():\n"
        "    throttle.failure(policy, key)\n"
        "    audit_record(kind=Kind.LOGIN_FAILED)\n"
        "    raise WrongPasswordError\n"
        "with transaction.atomic():\n"
        "    audit_record(kind=Kind.CAS_VALIDATION_FAILED)\n"
        "    transaction.set_rollback(True)\n"
    )
    good = (
        "with transaction.atomic():\n"
        "    retry = throttle.failure(policy, key)\n"
        "    audit_record(kind=Kind.LOGIN_FAILED)\n"
        "raise WrongPasswordError(retry)\n"
    )
    assert refusal_writes_rolled_back(bad) == [2, 3, 6]
    assert refusal_writes_rolled_back(good) == []


def test_no_refusal_is_recorded_in_a_block_the_refusal_rolls_back() -> None:
    offenders = {
        str(path.relative_to(ROOT.parent)): lines
        for path in sorted(ROOT.rglob("*.py"))
        if "migrations" not in path.parts
        and (lines := refusal_writes_rolled_back(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
