"""The embedded models fix a failing test in a real project, through the graph.

Runs when the `embedded` extra is installed and the models fetched (CI does both).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from graph import Context, build_graph
from orquestra.runtime import build_model_manager, set_model_manager
from tests.graph_support import user
from tests.orquestra.backends.test_embedded import USER_CACHE, needs_models

BUGGY = 'def is_even(number):\n    """Whether `number` is even."""\n    return number % 2 == 1\n'
TESTS = (
    "from parity import is_even\n\n\n"
    "def test_four_is_even():\n    assert is_even(4)\n\n\n"
    "def test_three_is_odd():\n    assert not is_even(3)\n"
)
REQUEST = "Os testes de test_parity.py falham, corrija parity.py"


def pytest_passes(root: Path) -> bool:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return done.returncode == 0


@needs_models
@pytest.mark.parametrize("apply", [False, True], ids=["diff only", "applied"])
async def test_real_models_fix_a_failing_test_and_write_it_only_when_asked(
    tmp_path: Path, apply: bool
) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "parity.py").write_text(BUGGY)
    (root / "test_parity.py").write_text(TESTS)
    manager = build_model_manager(backend="embedded", cache_dir=USER_CACHE, home_role="none")
    set_model_manager(manager)
    try:
        final = await build_graph().ainvoke(
            user(REQUEST),
            context=Context(workspace_dir=str(root), apply_changes=apply, execution_timeout_s=60),
        )
    finally:
        set_model_manager(None)
        await manager.aclose()
    answer = str(final["messages"][-1].content)
    assert final["workspace"]["accepted"] is True, (answer, final["executions"])
    assert "Antes: 0 passando, 2 falhando" in answer and "2 de 2 passando" in answer, answer
    assert "-    return number % 2 == 1" in final["workspace"]["diff"]
    assert (root / "test_parity.py").read_text() == TESTS
    if apply:
        assert final["workspace"]["applied"] is True
        assert (root / "parity.py").read_text() != BUGGY and pytest_passes(root)
    else:
        assert (root / "parity.py").read_text() == BUGGY and not pytest_passes(root)
