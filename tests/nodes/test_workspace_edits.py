"""Which edits a change to the user's files may make: never the tests, but by a rename."""

from __future__ import annotations

from nodes.refactor_asks import RefactorAsk
from nodes.workspace_step import allowed_edits

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
