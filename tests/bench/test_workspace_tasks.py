"""Refactoring tasks and the judge: a real refactor passes, the untouched module does not."""

import ast

import pytest
from refactors import HELPERS, refactor_problems, refactors
from workspace_project import MODULE, TESTS, project_of
from workspace_tasks import BUG_FIXING, Task, bug_tasks, changed_tests, judge, refactor_tasks

from tests.bench.humaneval_cases import PROBLEMS

EXTRACTED = """from typing import List


def scan_numbers(numbers, threshold):
    for idx, elem in enumerate(numbers):
        for idx2, elem2 in enumerate(numbers):
            if idx != idx2 and abs(elem - elem2) < threshold:
                return True
    return False


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    return scan_numbers(numbers, threshold)
"""


def by_kind(number: int) -> dict[str, Task]:
    return {t.kind: t for t in refactor_tasks(project_of(PROBLEMS[number]), seed=0, wanted=3)}


def test_a_module_with_a_helper_renames_and_moves_the_helper() -> None:
    found = {r.kind: r for r in refactors(project_of(PROBLEMS[10]))}
    assert set(found) == {"extract_helper", "rename", "split_module"}
    assert (found["rename"].function, found["rename"].new_name) == (
        "is_palindrome",
        "check_palindrome",
    )
    assert found["split_module"].moved == ("is_palindrome",)
    assert found["extract_helper"].statement == "While"
    assert (
        "`while` loop of `make_palindrome` that starts at line" in found["extract_helper"].request
    )


async def test_an_extracted_loop_passes_and_the_untouched_module_does_not() -> None:
    task = by_kind(0)["extract_helper"]
    assert task.refactor is not None and task.refactor.new_name == "scan_numbers"
    done = {**task.files, MODULE: EXTRACTED}
    assert refactor_problems(task.refactor, task.files[MODULE], done) == []
    assert (await judge(task, done)).solved
    assert refactor_problems(task.refactor, task.files[MODULE], task.files)
    uncalled = EXTRACTED.replace("return scan_numbers(numbers, threshold)", "return False")
    problems = refactor_problems(task.refactor, task.files[MODULE], {MODULE: uncalled})
    assert "has_close_elements does not call scan_numbers" in problems


@pytest.mark.parametrize(
    ("number", "old", "new"),
    [
        (0, "has_close_elements", "contains_close_elements"),
        (35, "max_element", "compute_max_element"),
    ],
)
async def test_a_rename_counts_the_tests_uses_and_nothing_else_in_them(
    number: int, old: str, new: str
) -> None:
    task = by_kind(number)["rename"]
    assert task.renames == {old: new}
    done = {name: text.replace(old, new) for name, text in task.files.items()}
    assert changed_tests(task, done) == []
    assert (await judge(task, done)).solved
    uses_only = {**done, TESTS: task.files[TESTS].replace(f"{old}(", f"{new}(")}
    uses_only[TESTS] = uses_only[TESTS].replace(f"import {old}", f"import {new}")
    assert changed_tests(task, uses_only) == []  # the test functions keep their names
    assert not (await judge(task, task.files)).solved
    verdict = await judge(task, {**task.files, MODULE: done[MODULE]})
    assert not verdict.solved and "tests fail" in verdict.why
    weaker = {**done, TESTS: "\n".join(done[TESTS].splitlines()[:-1]) + "\n    assert True\n"}
    assert changed_tests(task, weaker) == [TESTS]


async def test_a_split_module_defines_the_helper_in_helpers_and_imports_it() -> None:
    task = by_kind(10)["split_module"]
    module = ast.parse(task.files[MODULE])
    helper = next(n for n in module.body if isinstance(n, ast.FunctionDef))
    lines = task.files[MODULE].splitlines(keepends=True)
    helper_text = "".join(lines[helper.lineno - 1 : helper.end_lineno])
    rest = "".join(lines[: helper.lineno - 1] + lines[helper.end_lineno :])
    done = {
        **task.files,
        HELPERS: helper_text,
        MODULE: "from helpers import is_palindrome\n" + rest,
    }
    assert refactor_problems(task.refactor, task.files[MODULE], done) == []  # type: ignore[arg-type]
    assert (await judge(task, done)).solved
    verdict = await judge(task, task.files)
    assert not verdict.solved and "helpers.py is missing" in verdict.why


async def test_a_bug_task_carries_pytests_report_and_the_fix_is_the_canonical() -> None:
    project = project_of(PROBLEMS[0])
    tasks = await bug_tasks(project, seed=0, wanted=2)
    assert len(tasks) == 2 and {t.family for t in tasks} == {BUG_FIXING}
    for task in tasks:
        assert "failed" in task.report and "test_has_close_elements" in task.report
        assert not (await judge(task, task.files)).solved
        assert (await judge(task, project.files)).solved
        cheat = {**project.files, TESTS: "def test_nothing():\n    pass\n"}
        assert (await judge(task, cheat)).why == f"changed {TESTS}"
