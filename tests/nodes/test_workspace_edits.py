"""What a change to the user's files may edit, and when a rejected draft is worth a repair."""

from __future__ import annotations

from nodes.refactor_asks import RefactorAsk
from nodes.workspace_job import WorkspaceJob
from nodes.workspace_judge import allowed_edits, worth_repairing
from tools.project_tests import TestReport

CODE = "def largest(values):\n    return max(values)\n"
TESTS = "from solution import largest\n\n\ndef test_largest():\n    assert largest([1]) == 1\n"
ORIGINALS = {"solution.py": CODE, "test_solution.py": TESTS}


def test_a_fix_or_a_move_never_changes_a_test() -> None:
    edits = {"solution.py": CODE + "\n", "test_solution.py": "def test_x():\n    pass\n"}
    assert allowed_edits(edits, ORIGINALS, None) == {"solution.py": CODE + "\n"}
    move = RefactorAsk("move", ("largest",), "helpers.py")
    moved = {**edits, "helpers.py": CODE, "test_solution.py": TESTS.replace("solution", "helpers")}
    assert set(allowed_edits(moved, ORIGINALS, move)) == {"solution.py", "helpers.py"}


def test_a_rename_changes_a_test_only_by_the_rename() -> None:
    rename = RefactorAsk("rename", ("largest",), "maximum")
    renamed = TESTS.replace("largest", "maximum")  # test_largest becomes test_maximum too
    assert allowed_edits({"test_solution.py": renamed}, ORIGINALS, rename) == {
        "test_solution.py": renamed
    }
    weakened = renamed.replace("== 1", "is not None")
    assert allowed_edits({"test_solution.py": weakened}, ORIGINALS, rename) == {}
    assert allowed_edits({"tests/test_new.py": renamed}, ORIGINALS, rename) == {}


def report(passed: set[str], failed: set[str], exit_code: int = 1, error: str = "") -> TestReport:
    return TestReport(
        ("pytest",), exit_code, frozenset(passed), frozenset(failed), "", False, error
    )


BEFORE = report({"t::ok"}, {"t::bad"})
FIX = WorkspaceJob("fix", ("solution.py",), ())
CHANGE = {"solution.py": CODE}


def test_a_draft_is_repaired_only_when_its_rejection_says_something_new() -> None:
    same = report({"t::ok"}, {"t::bad"})
    assert not worth_repairing(FIX, BEFORE, same, CHANGE, CHANGE)  # nothing moved
    moved = report({"t::bad"}, {"t::ok"})
    assert worth_repairing(FIX, BEFORE, moved, CHANGE, CHANGE)  # fixed one, broke one
    broken = report(set(), set(), exit_code=2, error="")
    assert worth_repairing(FIX, BEFORE, broken, CHANGE, CHANGE)  # the tests could not run
    assert worth_repairing(FIX, BEFORE, same, {}, {})  # no file: the executor writes its own
    cheat = {"test_solution.py": "x\n"}
    assert not worth_repairing(FIX, BEFORE, same, cheat, {})  # it only tried to edit the tests
    refactor = WorkspaceJob("refactor", ("solution.py",), ())
    assert worth_repairing(refactor, BEFORE, same, CHANGE, CHANGE)  # the ask names what lacks
