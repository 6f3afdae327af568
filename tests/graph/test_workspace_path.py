"""The pair fixes and refactors the user's files: the brain drafts, the executor repairs."""

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
    state.script(BRAIN, fixed_reply())
    final = await graph.ainvoke(user(REQUEST), context=Context(workspace_dir=str(root)))
    assert final["task_type"] == "code" and final["workspace"]["accepted"] is True
    assert (root / "solution.py").read_text() == BUGGY  # untouched without --apply
    answer = final["messages"][-1].content
    assert "-        if v < best:" in answer and "+        if v > best:" in answer
    assert "Before: 1 passed, 1 failed (test_solution.py::test_largest)" in answer
    assert "2 passed of 2" in answer
    messages = bodies_for(state.requests, BRAIN)[0]["messages"]
    # Asked as it answers alone: no system prompt of ours, the files and pytest's output.
    assert [m["role"] for m in messages] == ["user"]
    prompt = messages[0]["content"]
    assert prompt.startswith(REQUEST) and BUGGY.splitlines()[3] in prompt
    assert "Output of `pytest`" in prompt and "test_largest" in prompt
    assert [s["to_role"] for s in final["swaps"]] == ["brain"]  # accepted: no executor
    assert bodies_for(state.requests, EXECUTOR) == []


async def test_with_apply_the_change_reaches_the_users_files(
    graph: Any, wired: ModelManager, state: FakeOllamaState, tmp_path: Path
) -> None:
    root = project(tmp_path / "proj")
    state.script(BRAIN, fixed_reply())
    final = await graph.ainvoke(
        user(REQUEST), context=Context(workspace_dir=str(root), apply_changes=True)
    )
    assert final["workspace"]["applied"] is True
    assert (root / "solution.py").read_text() == FIXED
    assert (root / "test_solution.py").read_text() == TESTS


async def test_a_draft_the_tests_reject_is_repaired_by_the_executor_from_their_output(
    graph: Any, wired: ModelManager, state: FakeOllamaState, tmp_path: Path
) -> None:
    root = project(tmp_path / "proj")
    wrong = "def largest(values):\n    return max(values[1:])\n"  # fixes one, breaks one
    state.script(BRAIN, fixed_reply(wrong))
    state.script(EXECUTOR, fixed_reply())
    final = await graph.ainvoke(
        user(REQUEST), context=Context(workspace_dir=str(root), apply_changes=True)
    )
    runs = final["executions"]
    assert [(r["by"], r["accepted"]) for r in runs] == [("brain", False), ("executor", True)]
    assert [s["to_role"] for s in final["swaps"]] == ["brain", "executor"]
    repair = bodies_for(state.requests, EXECUTOR)[0]["messages"][-1]["content"]
    assert wrong in repair  # the draft's file, not the user's
    assert "rejected" in repair and "test_largest" in repair  # and why the tests refuse it
    assert (root / "solution.py").read_text() == FIXED


async def test_a_draft_that_leaves_the_same_tests_failing_is_not_sent_to_the_executor(
    graph: Any, wired: ModelManager, state: FakeOllamaState, tmp_path: Path
) -> None:
    root = project(tmp_path / "proj")
    state.script(BRAIN, fixed_reply(BUGGY.replace("return best", "return best  # the largest")))
    final = await graph.ainvoke(user(REQUEST), context=Context(workspace_dir=str(root)))
    assert [(r["by"], r["accepted"]) for r in final["executions"]] == [("brain", False)]
    assert [s["to_role"] for s in final["swaps"]] == ["brain"]  # no swap for nothing new
    assert bodies_for(state.requests, EXECUTOR) == []
    answer = final["messages"][-1].content
    assert "No change passed" in answer and "Still failing" in answer


async def test_a_fix_that_edits_the_tests_is_not_a_fix(
    graph: Any, wired: ModelManager, state: FakeOllamaState, tmp_path: Path
) -> None:
    root = project(tmp_path / "proj")
    cheat = "test_solution.py\n```python\ndef test_nothing():\n    pass\n```\n"
    state.script(BRAIN, cheat)
    state.script(EXECUTOR, cheat)
    final = await graph.ainvoke(
        user(REQUEST), context=Context(workspace_dir=str(root), apply_changes=True)
    )
    assert final["workspace"]["accepted"] is False
    answer = final["messages"][-1].content
    assert "Nothing was written" in answer and "changed nothing" in answer
    assert (root / "test_solution.py").read_text() == TESTS


async def test_a_file_edited_during_the_run_refuses_the_apply(
    graph: Any, wired: ModelManager, state: FakeOllamaState, tmp_path: Path
) -> None:
    root = project(tmp_path / "proj")

    def edit_then_answer(body: dict[str, Any]) -> str:
        (root / "solution.py").write_text(BUGGY + "# the user's own edit\n")
        return fixed_reply()

    state.script(BRAIN, edit_then_answer)
    final = await graph.ainvoke(
        user(REQUEST), context=Context(workspace_dir=str(root), apply_changes=True)
    )
    assert "solution.py" in (final.get("error") or final["messages"][-1].content)
    assert (root / "solution.py").read_text().endswith("# the user's own edit\n")


async def test_a_refactor_is_accepted_only_when_the_asked_change_is_there(
    graph: Any, wired: ModelManager, state: FakeOllamaState, tmp_path: Path
) -> None:
    root = project(tmp_path / "proj")
    (root / "solution.py").write_text(FIXED)
    rename = "Rename `largest` in solution.py to `maximum` and update its uses"
    # The brain's draft keeps every test passing but renames nothing.
    state.script(BRAIN, fixed_reply(FIXED + "\n# tidied\n"))
    renamed = FIXED.replace("largest", "maximum")
    tests = TESTS.replace("largest", "maximum")
    state.script(
        EXECUTOR,
        f"solution.py\n```python\n{renamed}```\n\ntest_solution.py\n```python\n{tests}```\n",
    )
    final = await graph.ainvoke(
        user(rename), context=Context(workspace_dir=str(root), apply_changes=True)
    )
    runs = final["executions"]
    assert [(r["by"], r["accepted"]) for r in runs] == [("brain", False), ("executor", True)]
    assert "the refactor is not done: no file defines `maximum`" in runs[0]["feedback"]
    assert (root / "solution.py").read_text() == renamed
    assert (root / "test_solution.py").read_text() == tests
