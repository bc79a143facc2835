"""The shape the "one home per rule" issue asked for, kept: no function over 60 lines outside
migrations and tests, no view over 30 lines, no import from ``ent.core`` to an app above it.

``scripts/code-shape`` measures; this test fails with its list of offenders, so a change that
grows a view past the limit is seen in review rather than months later.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import pathlib
from types import ModuleType

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _shape() -> ModuleType:
    loader_path = ROOT / "scripts" / "code-shape"
    spec = importlib.util.spec_from_loader(
        "code_shape",
        importlib.machinery.SourceFileLoader("code_shape", str(loader_path)),
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_function_over_sixty_lines() -> None:
    found = _shape().measure(ROOT / "ent")
    assert found["functions"] == []


def test_no_view_over_thirty_lines() -> None:
    found = _shape().measure(ROOT / "ent")
    assert found["views"], "the measure found no view at all: it is measuring nothing"
    assert found["long_views"] == []


def test_core_imports_nothing_above_it() -> None:
    found = _shape().measure(ROOT / "ent")
    assert found["upward"] == []


def test_the_measure_sees_a_long_function_and_an_upward_import(tmp_path: pathlib.Path) -> None:
    """The measure itself: a 61-line view in a views module and a core → accounts import."""
    app = tmp_path / "ent" / "portal"
    app.mkdir(parents=True)
    body = "".join(f"    x{i} = {i}\n" for i in range(60))
    (app / "views.py").write_text(f"def page(request):\n{body}")
    core = tmp_path / "ent" / "core"
    core.mkdir()
    (core / "mod.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ent.accounts.models import Account\n"
        "from ent.accounts import activation\n"
    )
    found = _shape().measure(tmp_path / "ent")
    assert [where for _n, where in found["functions"]] == ["ent/portal/views.py:1 page"]
    assert [where for _n, where in found["long_views"]] == ["ent/portal/views.py:1 page"]
    assert [where for _n, where in found["upward"]] == ["ent/core/mod.py:4 ent.accounts"]
