"""The executor works on the user's code: a private copy, the project's tests, a diff.

For a workspace job (`nodes.workspace_job`), the executor gets the workspace's files and
the project's test results, and answers with new contents for the files it changes. Each
attempt is written into a private copy of the workspace (the user's files untouched), the
project's tests run in the sandbox on that copy, and the attempt is judged: a fix must
make the failing (or named) tests pass and keep every test that passed; a refactor must
keep every test that passed. A rejected attempt is undone in the copy and its failures
go back to the executor. The answer is the change as a unified diff with the test results
before and after; with `apply_changes` (`orquestra run --apply`) an accepted change is
written to the user's files (`tools.changes.aapply` refuses a file that changed since).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from nodes.common import message_text, request_text, tail
from nodes.context import Context
from nodes.workspace_job import WorkspaceJob, file_blocks
from tools.changes import aapply, aunified_diff
from tools.project_tests import (
    TestReport,
    Verdict,
    arun_project_tests,
    judge_fix,
    judge_refactor,
)
from tools.workspace import WorkspaceError
from tools.workspace_copy import acopy_workspace, adiscard, aread_files, awrite_files

# How much of the workspace's code a prompt carries (the named files first).
MAX_PROMPT_CODE_CHARS = 24_000
# How much of a test run's output a prompt carries.
MAX_TEST_OUTPUT_CHARS = 3_000
# Files of these kinds are shown to the executor (code and tests).
SHOWN_SUFFIXES = (".py", ".toml", ".cfg", ".ini", ".txt", ".md")

WORKSPACE_PROMPT = (
    "You change files of the user's project. Answer with the complete new content of "
    "every file you change, each as a fenced code block right under a line holding the "
    "file's path, e.g.\n\nsolution.py\n```python\n...\n```\n\nChange only what the request "
    "needs. Never change the tests of a fix. Keep every name the tests use."
)


def test_file(path: str) -> bool:
    """Whether `path` is a test file (pytest's naming)."""
    name = path.rsplit("/", 1)[-1]
    return name.startswith("test_") or name.endswith("_test.py") or "/tests/" in f"/{path}"


def shown_files(job: WorkspaceJob, paths: list[str], sizes: Mapping[str, int]) -> list[str]:
    """The files a prompt shows: the named ones, then tests, then the rest, within budget."""
    ordered = [p for p in job.files if p in sizes]
    ordered += sorted(p for p in paths if p not in ordered and test_file(p))
    ordered += sorted(p for p in paths if p not in ordered)
    shown, used = [], 0
    for path in ordered:
        if not path.endswith(SHOWN_SUFFIXES) or used + sizes[path] > MAX_PROMPT_CODE_CHARS:
            continue
        shown.append(path)
        used += sizes[path]
    return shown


def report_text(report: TestReport) -> str:
    """A test run as a prompt or an answer shows it."""
    failed = ", ".join(sorted(report.failed)) or "none"
    state = "timed out" if report.timed_out else f"exit {report.exit_code}"
    if report.error:
        state = f"not run: {report.error}"
    return (
        f"$ {' '.join(report.command)}  ({state}; {len(report.passed)} passed, "
        f"{len(report.failed)} failed: {failed})\n{tail(report.output, MAX_TEST_OUTPUT_CHARS)}"
    )


def workspace_messages(
    job: WorkspaceJob, request: str, files: Mapping[str, str], before: TestReport, feedback: str
) -> list[BaseMessage]:
    """The executor's prompt: the request, the files, the test results, the last failure."""
    shown = "\n\n".join(f"{path}\n```\n{text.rstrip()}\n```" for path, text in files.items())
    parts = [
        f"Request ({job.kind}): {request}",
        f"Project files:\n\n{shown}",
        f"The project's tests now:\n{report_text(before)}",
    ]
    if feedback:
        parts.append(f"Your last change was rejected:\n{feedback}\nFix that.")
    return [SystemMessage(WORKSPACE_PROMPT), HumanMessage("\n\n".join(parts))]


def verdict_of(job: WorkspaceJob, before: TestReport, after: TestReport) -> Verdict:
    """Whether the change does what the job needs (see `tools.project_tests`)."""
    if job.kind == "refactor":
        return judge_refactor(before, after)
    targets = frozenset(t for t in job.tests if t in before.failed) or None
    return judge_fix(before, after, targets)


async def work_on_workspace(
    chat: BaseChatModel,
    state: Mapping[str, Any],
    context: Context,
    job: WorkspaceJob,
    *,
    by: str = "executor",
) -> dict[str, Any]:
    """Run the job's attempts on a private copy; the state update with the answer.

    The executor has `max_attempts`; when none is accepted and `rescue_attempts` allows,
    the step is left to the brain (`pending_rescue`), which gets `rescue_attempts` more,
    starting from the executor's last failure.
    """
    earlier = [r for r in state.get("executions", []) if r.get("workspace")]
    attempts = context.max_attempts if by == "executor" else max(context.rescue_attempts, 1)
    source = Path(context.workspace_dir)
    copy = await acopy_workspace(source)
    runs: list[dict[str, Any]] = []
    feedback = str(earlier[-1].get("feedback", "")) if earlier else ""
    accepted = False
    try:
        sizes = {path: stamp.size for path, stamp in copy.stamps.items()}
        originals = await aread_files(copy, shown_files(job, list(sizes), sizes))
        before = await arun_project_tests(copy, timeout_s=context.execution_timeout_s)
        first = len(earlier) + 1
        for attempt in range(first, first + attempts):
            if attempt > first:  # each attempt starts from the user's files as they were
                await adiscard(copy)
                copy = await acopy_workspace(source)
            reply = await chat.ainvoke(
                workspace_messages(job, request_text(state), originals, before, feedback)
            )
            edits = file_blocks(message_text(reply))
            if job.kind == "fix":  # a fix never passes by changing its tests
                edits = {p: t for p, t in edits.items() if not test_file(p)}
            await awrite_files(copy, edits)
            after = await arun_project_tests(copy, timeout_s=context.execution_timeout_s)
            verdict = verdict_of(job, before, after)
            accepted = bool(verdict.ok) and bool(edits)
            feedback = (
                "it changed no file" if not edits else f"{verdict.reason}\n{report_text(after)}"
            )
            runs.append(_run_record(attempt, by, edits, after, accepted, feedback))
            if accepted:
                break
        diff = await aunified_diff(copy) if accepted else ""
        applied, refused = None, ""
        if accepted and context.apply_changes:
            try:
                applied = await aapply(copy)
            except WorkspaceError as exc:  # a file changed since the run read it, …
                refused = str(exc)
    finally:
        await adiscard(copy)
    if not accepted and by == "executor" and context.rescue_attempts > 0:
        return {"executions": runs, "pending_rescue": [1]}  # the brain tries next
    every = [*earlier, *runs]
    answer = _answer(job, before, every, diff, applied.shown if applied else None, refused)
    return {
        "executions": runs,
        "pending_rescue": [],
        "workspace": {
            "diff": diff,
            "applied": applied is not None,
            "accepted": accepted,
            "refused": refused,
        },
        "messages": [AIMessage(answer)],
    }


def _run_record(
    attempt: int,
    by: str,
    edits: Mapping[str, str],
    after: TestReport,
    accepted: bool,
    feedback: str,
) -> dict[str, Any]:
    return {
        "step": 1,
        "attempt": attempt,
        "by": by,
        "workspace": True,
        "feedback": "" if accepted else feedback,
        "code": "\n\n".join(f"# {p}\n{t}" for p, t in edits.items()),
        "stdout": tail(after.output),
        "stderr": "",
        "exit_code": after.exit_code,
        "accepted": accepted,
        "checks_passed": len(after.passed),
        "checks_total": len(after.passed) + len(after.failed),
    }


def _answer(
    job: WorkspaceJob,
    before: TestReport,
    runs: list[dict[str, Any]],
    diff: str,
    applied: str | None,
    refused: str = "",
) -> str:
    last = runs[-1] if runs else None
    before_line = f"Before: {len(before.passed)} passed, {len(before.failed)} failed."
    if not diff or last is None:
        tried = f"{len(runs)} attempt(s)" if runs else "no attempt"
        return (
            f"No change passed the project's tests ({tried}). {before_line} Nothing was "
            "written to your files."
        )
    after_line = f"After: {last['checks_passed']} passed of {last['checks_total']}."
    if applied is not None:
        where = f"Applied to your files:\n\n```diff\n{applied}\n```"
    elif refused:
        where = f"Not applied: {refused}\n\nThe change:\n\n```diff\n{diff}\n```"
    else:
        where = (
            f"Your files are unchanged; the change, to apply with `orquestra run --apply` "
            f"(or `git apply`):\n\n```diff\n{diff}\n```"
        )
    return f"The {job.kind} passes the project's tests. {before_line} {after_line}\n\n{where}"
