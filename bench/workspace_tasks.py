"""The tasks of `bench/workspace.py`, made from HumanEval's dev problems, and how each is judged.

A task hands a contender a project (`bench/workspace_project.py`) and a request:
- bug fixing: the module carries one bug from `bench/mutator.py` (the tests fail, and the
  contender is shown pytest's report); solved when the tests pass again.
- refactoring: the module is the canonical one, and the request is a refactor from
  `bench/refactors.py` (extract a helper, rename a function, split the module), checked
  with `ast` besides the tests.

Every task is judged alike: the files a contender leaves are run with pytest in the
sandbox; solved = the tests pass, the test files are the ones handed over (for a rename:
with the name changed) and the refactor's check holds.
"""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass, field

from mutator import failing_mutants
from refactors import Refactor, parsed, refactor_problems, refactors
from workspace_project import MODULE, Project, TestRun, run_tests

BUG_FIXING, REFACTORING = "bug fixing", "refactoring"
BUG_REQUEST = (
    "The tests in test_solution.py fail. Fix the bug in solution.py so that they pass; "
    "do not change the tests."
)


@dataclass(frozen=True)
class Task:
    """A project, what the user asks of it, and what its judge needs."""

    task_id: str
    family: str
    kind: str
    request: str
    files: dict[str, str]
    detail: str
    """What was done to the module (a bug) or asked of it (a refactor), for the logs."""
    report: str = ""
    """pytest's report on the files handed over (bug fixing)."""
    refactor: Refactor | None = None
    renames: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.task_id} {self.kind}"


@dataclass(frozen=True)
class Verdict:
    solved: bool
    why: str


def _test_shape(text: str, renames: dict[str, str]) -> str | None:
    """The tests' `ast`, each new name of a rename written the old way (None: no parse).

    Mapping new names back (not old names forward) keeps `poly` -> `compute_poly` from
    reading `compute_poly` as `compute_compute_poly`; test functions named after the
    function may be renamed with it or not.
    """
    tree = parsed(text)
    if tree is None:
        return None
    for node in ast.walk(tree):
        for attr in ("id", "name", "asname", "attr"):
            value = getattr(node, attr, None)
            if isinstance(value, str):
                for old, new in renames.items():
                    value = value.replace(new, old)
                setattr(node, attr, value)
    return ast.dump(tree)


def changed_tests(task: Task, files: dict[str, str]) -> list[str]:
    """The test files a contender changed (beyond a rename it was asked for)."""
    return [
        name
        for name, text in task.files.items()
        if name.rsplit("/", 1)[-1].startswith("test_")
        and _test_shape(files.get(name, ""), task.renames) != _test_shape(text, {})
    ]


async def judge(task: Task, files: dict[str, str]) -> Verdict:
    """Solved: the tests pass, the tests are unchanged, and a refactor's check holds."""
    changed = changed_tests(task, files)
    if changed:
        return Verdict(False, f"changed {', '.join(changed)}")
    problems = []
    if task.refactor is not None:
        problems = refactor_problems(task.refactor, task.files[MODULE], files)
    run = await run_tests(files)
    if not run.passed:
        problems.insert(0, "tests time out" if run.timed_out else "tests fail")
    return Verdict(not problems, "; ".join(problems) or "ok")


async def bug_tasks(project: Project, seed: int, wanted: int) -> list[Task]:
    """Up to `wanted` bug-fixing tasks of different kinds, each with pytest's report."""
    tasks = []
    for mutant in await failing_mutants(project, seed, wanted):
        files = {**project.files, MODULE: mutant.source}
        run: TestRun = await run_tests(files)
        detail = f"line {mutant.line}: {mutant.description}"
        tasks.append(
            Task(
                project.task_id, BUG_FIXING, mutant.kind, BUG_REQUEST, files, detail, run.excerpt()
            )
        )
    return tasks


def refactor_tasks(project: Project, seed: int, wanted: int) -> list[Task]:
    """Up to `wanted` refactoring tasks of different kinds, in a seeded order."""
    found = refactors(project)
    random.Random(f"{seed}:{project.task_id}:refactor").shuffle(found)
    return [
        Task(
            project.task_id,
            REFACTORING,
            r.kind,
            r.request,
            dict(project.files),
            r.request,
            refactor=r,
            renames={r.function: r.new_name} if r.kind == "rename" else {},
        )
        for r in found[:wanted]
    ]
