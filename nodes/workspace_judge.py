"""Whether a change to the user's files does what the job asks, and which edits it may make.

Pure: the test reports before and after, the request's structural ask, the files. A fix
must make the failing (or named) tests pass and keep every test that passed; a refactor
must keep every test that passed (a test renamed with the function counts as itself) and
hold what the request asked (`nodes.refactor_asks`). Neither may change a test, but as a
rename renames in it; a change that changes nothing is never accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from nodes.refactor_asks import RefactorAsk, missing
from nodes.workspace_job import WorkspaceJob
from tools.project_tests import TestReport, Verdict, judge_fix, judge_refactor


def test_file(path: str) -> bool:
    """Whether `path` is a test file (pytest's naming)."""
    name = path.rsplit("/", 1)[-1]
    return name.startswith("test_") or name.endswith("_test.py") or "/tests/" in f"/{path}"


def verdict_of(
    job: WorkspaceJob,
    before: TestReport,
    after: TestReport,
    ask: RefactorAsk | None,
    originals: Mapping[str, str],
    now: Mapping[str, str],
) -> Verdict:
    """Whether the change does what the job needs (see `tools.project_tests`)."""
    if now == originals:
        return Verdict(False, "It changed nothing: every file is as it was.")
    if job.kind == "fix":
        targets = frozenset(t for t in job.tests if t in before.failed) or None
        return judge_fix(before, after, targets)
    verdict = judge_refactor(_renamed_ids(before, after, ask), after)
    absent = missing(ask, originals, now) if ask is not None and verdict.ok else []
    if absent:
        return Verdict(False, f"The tests pass but the refactor is not done: {'; '.join(absent)}.")
    return verdict


def allowed_edits(
    edits: Mapping[str, str], originals: Mapping[str, str], ask: RefactorAsk | None
) -> dict[str, str]:
    """The edits a change may make: never to the tests, but what a rename does to them.

    The tests say what the code must do; a fix or a refactor that passes by changing them
    is no fix. A rename changes them only by the rename (an edit to a test file is kept
    when it is the original with the old name replaced, and dropped otherwise).
    """
    kept = {}
    for path, text in edits.items():
        if not test_file(path):
            kept[path] = text
        elif ask is not None and ask.kind == "rename" and path in originals:
            renamed = _identifier(ask.old[0]).sub(ask.new, originals[path])
            if text.strip() == renamed.strip():
                kept[path] = text
    return kept


def not_taken(paths: list[str]) -> str:
    """Why edits to `paths` were left out (to tell the next attempt); "" for none."""
    if not paths:
        return ""
    return (
        f" Not taken: the change to {', '.join(paths)} (the tests stay as they are; a rename "
        "changes them only by the rename)."
    )


def _identifier(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])")


def _renamed_ids(before: TestReport, after: TestReport, ask: RefactorAsk | None) -> TestReport:
    """`before` with the test ids a rename renamed as `after` has them (`test_f` -> `test_g`)."""
    if ask is None or ask.kind != "rename":
        return before
    old = _identifier(ask.old[0])
    now = after.passed | after.failed

    def renamed(ids: frozenset[str]) -> frozenset[str]:
        return frozenset(
            new if i not in now and (new := old.sub(ask.new, i)) in now else i for i in ids
        )

    return replace(before, passed=renamed(before.passed), failed=renamed(before.failed))


def worth_repairing(
    job: WorkspaceJob,
    before: TestReport,
    after: TestReport,
    given: Mapping[str, str],
    kept: Mapping[str, str],
) -> bool:
    """Whether a rejected draft goes to the executor to repair (pure).

    A repair is worth its answer when the draft's own run says something concrete the
    draft's author did not know: the tests could not run (a syntax error, a hang), their
    outcomes moved (a target passes now, or a test that passed broke), or a refactor lacks
    the structure asked; or when the draft gave no file at all (the executor writes its
    own). A fix that left the same tests failing, or that only tried to change the tests,
    tells the smaller model nothing the larger one did not see: measured in
    `bench/workspace.py` (6 dev problems, 16 tasks, three runs), such repairs never landed
    and took bug fixing past three times the executor's seconds.
    """
    if not given:
        return True
    if job.kind == "refactor" or after.error or after.timed_out:
        return True
    if after.exit_code not in (0, 1):  # pytest could not collect or was interrupted
        return True
    return after.failed != before.failed or after.passed != before.passed
