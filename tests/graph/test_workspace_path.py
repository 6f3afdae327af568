"""The executor fixes and refactors the user's files: a private copy, the project's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graph import Context
from orquestra.manager import ModelManager
from tests.fakes.ollama import FakeOllamaState
from tests.graph_support import BRAIN, EXECUTOR, bodies_for, user

BUGGY = (
    "def largest(values):\n"
    "    best = values[0]\n"
    "    for v in values:\n"
    "        if v < best:\n"
    "            best = v\n"
    "    return best\n"
)
FIXED = BUGGY.replace("v < best", "v > best")
TESTS = (
    "from solution import largest\n\n\n"
    "def test_largest():\n    assert largest([3, 9, 4]) == 9\n\n\n"
    "def test_one():\n    assert largest([5]) == 5\n"
)
REQUEST = "The tests in test_solution.py fail: fix solution.py"


def project(root: Path) -> Path:
    root.mkdir()
    (root / "solution.py").write_text(BUGGY)
    (root / "test_solution.py").write_text(TESTS)
    return root


def fixed_reply(text: str = FIXED) -> str:
    return f"The comparison was reversed.\n\nsolution.py\n```python\n{text}```\n"


async def test_a_failing_test_is_fixed_on_a_copy_and_the_users_files_stay_as_they_were(
    graph: Any, wired: ModelManager, state: FakeOllamaState, tmp_path: Path
) -> None:
    root = project(tmp_path / "proj")
    state.script(EXECUTOR, fixed_reply())
    final = await graph.ainvoke(user(REQUEST), context=Context(workspace_dir=str(root)))
    assert final["task_type"] == "code" and final["workspace"]["accepted"] is True
    assert (root / "solution.py").read_text() == BUGGY  # untouched without --apply
    answer = final["messages"][-1].content
    assert "-        if v < best:" in answer and "+        if v > best:" in answer
    assert "Before: 1 passed, 1 failed" in answer and "2 passed of 2" in answer
    prompt = bodies_for(state.requests, EXECUTOR)[0]["messages"][-1]["content"]
    assert BUGGY.splitlines()[3] in prompt and "test_largest" in prompt  # files and failures


async def test_with_apply_the_change_reaches_the_users_files(
    graph: Any, wired: ModelManager, state: FakeOllamaState, tmp_path: Path
) -> None:
    root = project(tmp_path / "proj")
    state.script(EXECUTOR, fixed_reply())
    final = await graph.ainvoke(
        user(REQUEST), context=Context(workspace_dir=str(root), apply_changes=True)
    )
    assert final["workspace"]["applied"] is True
    assert (root / "solution.py").read_text() == FIXED
    assert (root / "test_solution.py").read_text() == TESTS


async def test_a_change_that_breaks_tests_is_retried_with_the_failures(
    graph: Any, wired: ModelManager, state: FakeOllamaState, tmp_path: Path
) -> None:
    root = project(tmp_path / "proj")
    wrong = "def largest(values):\n    return values[0]\n"
    state.script(EXECUTOR, fixed_reply(wrong), fixed_reply())
    final = await graph.ainvoke(
        user(REQUEST), context=Context(workspace_dir=str(root), apply_changes=True)
    )
    assert [r["accepted"] for r in final["executions"]] == [False, True]
    second = bodies_for(state.requests, EXECUTOR)[1]["messages"][-1]["content"]
    assert "rejected" in second and "test_largest" in second
    assert (root / "solution.py").read_text() == FIXED


async def test_a_fix_that_edits_the_tests_is_not_a_fix(
    graph: Any, wired: ModelManager, state: FakeOllamaState, tmp_path: Path
) -> None:
    root = project(tmp_path / "proj")
    cheat = "test_solution.py\n```python\ndef test_nothing():\n    pass\n```\n"
    state.script(EXECUTOR, *[cheat] * 3)
    final = await graph.ainvoke(
        user(REQUEST), context=Context(workspace_dir=str(root), apply_changes=True)
    )
    assert final["workspace"]["accepted"] is False
    assert "Nothing was written" in final["messages"][-1].content
    assert (root / "test_solution.py").read_text() == TESTS


async def test_a_file_edited_during_the_run_refuses_the_apply(
    graph: Any, wired: ModelManager, state: FakeOllamaState, tmp_path: Path
) -> None:
    root = project(tmp_path / "proj")

    def edit_then_answer(body: dict[str, Any]) -> str:
        (root / "solution.py").write_text(BUGGY + "# the user's own edit\n")
        return fixed_reply()

    state.script(EXECUTOR, edit_then_answer)
    final = await graph.ainvoke(
        user(REQUEST), context=Context(workspace_dir=str(root), apply_changes=True)
    )
    assert "solution.py" in (final.get("error") or final["messages"][-1].content)
    assert (root / "solution.py").read_text().endswith("# the user's own edit\n")


async def test_when_the_executor_cannot_the_brain_fixes_it_from_its_last_failure(
    graph: Any, wired: ModelManager, state: FakeOllamaState, tmp_path: Path
) -> None:
    root = project(tmp_path / "proj")
    wrong = "def largest(values):\n    return values[0]\n"
    state.script(EXECUTOR, *[fixed_reply(wrong)] * 3)
    state.script(BRAIN, fixed_reply())
    final = await graph.ainvoke(
        user(REQUEST), context=Context(workspace_dir=str(root), apply_changes=True)
    )
    runs = final["executions"]
    assert [(r["by"], r["accepted"]) for r in runs] == [("executor", False)] * 3 + [
        ("brain", True)
    ]
    assert [s["to_role"] for s in final["swaps"]] == ["executor", "brain"]
    prompt = bodies_for(state.requests, BRAIN)[-1]["messages"][-1]["content"]
    assert "rejected" in prompt and "test_largest" in prompt  # the executor's last failure
    assert (root / "solution.py").read_text() == FIXED
