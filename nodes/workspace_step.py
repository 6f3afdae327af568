"""The pair works on the user's code: a private copy, the project's tests, a diff.

For a workspace job (`nodes.workspace_job`) the brain writes the change first, asked as it
answers best alone (no system prompt of ours: the model's own template and default, the
request, the files, pytest's output, one greedy answer; measured in `bench/workspace.py`,
where the executor answering first cost the time of a second model and lost the brain's
answers to the executor's accepted no-ops). When the project's tests reject that draft,
the executor repairs it from the tests' output (the draft's files and the failures), up
to `WORKSPACE_REPAIRS` times, when the rejection tells it something the brain did not
know (`worth_repairing`: measured, a repair of a fix that left the same tests failing
never landed). Each attempt is written into a private copy of the workspace
(the user's files untouched), the project's tests run in the sandbox on that copy, and the
attempt is judged: a fix must make the failing (or named) tests pass and keep every test
that passed; a refactor must keep every test that passed and hold what the request asked
(`nodes.refactor_asks`: the new name, the moved names, the extracted helper). Neither may
change a test, but as a rename renames in it (`allowed_edits`). The answer is the change
as a unified diff with the test results before and after; with `apply_changes` (`orquestra
run --apply`) an accepted change is written to the user's files (`tools.changes.aapply`
refuses a file that changed since).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from nodes.common import message_text, request_text, tail
from nodes.context import Context
from nodes.file_replies import files_in_reply
from nodes.refactor_asks import asked_refactor
from nodes.solve import sampled
from nodes.workspace_answer import workspace_answer
from nodes.workspace_job import WorkspaceJob
from nodes.workspace_judge import (
    allowed_edits,
    not_taken,
    test_file,
    verdict_of,
    worth_repairing,
)
from orquestra.language import detect_language
from tools.changes import aapply, aunified_diff
from tools.project_tests import TestReport, arun_project_tests
from tools.workspace import WorkspaceError
from tools.workspace_copy import acopy_workspace, adiscard, aread_files, awrite_files

# How much of the workspace's code a prompt carries (the named files first).
MAX_PROMPT_CODE_CHARS = 24_000
# How much of a test run's output a prompt carries.
MAX_TEST_OUTPUT_CHARS = 3_000
# Files of these kinds are shown to the models (code and tests).
SHOWN_SUFFIXES = (".py", ".toml", ".cfg", ".ini", ".txt", ".md")
# The executor's repairs of a draft the tests rejected (each costs one executor answer and
# one test run; measured in bench/workspace.py: no first repair landed, so no second).
WORKSPACE_REPAIRS = 1
# Greedy answers, reproducible (the seed also has the prompt read afresh, see
# `orquestra.backends.llamacpp_chat`).
GREEDY_SEED = 0

ANSWER_FORMAT = (
    "Answer with the complete new content of every file you change or create, each in its "
    "own ```python block whose first line is a comment with the file's path, like "
    "`# {example}`. Leave out the files you do not change."
)


def shown_files(job: WorkspaceJob, paths: list[str], sizes: Mapping[str, int]) -> list[str]:
    """The files a prompt shows: the named ones, the rest, then tests, within budget."""
    ordered = [p for p in job.files if p in sizes and not test_file(p)]
    ordered += sorted(p for p in paths if p not in ordered and not test_file(p))
    ordered += sorted(p for p in paths if p not in ordered)
    shown, used = [], 0
    for path in ordered:
        if not path.endswith(SHOWN_SUFFIXES) or used + sizes[path] > MAX_PROMPT_CODE_CHARS:
            continue
        shown.append(path)
        used += sizes[path]
    return shown


def workspace_messages(
    request: str, files: Mapping[str, str], test_output: str = "", rejected: str = ""
) -> list[BaseMessage]:
    """The prompt: the request, the files, pytest's output, and why the last change failed.

    No system message: the model's own template and default system prompt, as it answers
    best alone. With `rejected`, `files` are the rejected change's and `test_output` its
    tests' output.
    """
    parts = [request]
    parts += [f"{path}:\n```python\n{text.rstrip()}\n```" for path, text in files.items()]
    if test_output.strip():
        shown = tail(test_output.strip(), MAX_TEST_OUTPUT_CHARS)
        parts.append(f"Output of `pytest`:\n```\n{shown}\n```")
    if rejected:
        parts.append(f"The files above are a change that was tried and rejected: {rejected}")
    example = next((p for p in files if not test_file(p)), "solution.py")
    parts.append(ANSWER_FORMAT.format(example=example))
    return [HumanMessage("\n\n".join(parts))]


def _unnamed_to(job: WorkspaceJob, files: Mapping[str, str]) -> str:
    """The file an unnamed code block is: the one code file the job is about, if one."""
    code = [p for p in job.files if not test_file(p)] or [p for p in files if not test_file(p)]
    return code[0] if len(code) == 1 else ""


async def work_on_workspace(
    chat: BaseChatModel,
    state: Mapping[str, Any],
    context: Context,
    job: WorkspaceJob,
    *,
    by: str = "brain",
) -> dict[str, Any]:
    """The brain's draft (`by="brain"`) or the executor's repairs of it; the state update.

    A draft the tests reject leaves `workspace` empty (the executor repairs it next, when
    `WORKSPACE_REPAIRS` and `max_attempts` allow); otherwise the update carries the answer.
    """
    earlier = [r for r in state.get("executions", []) if r.get("workspace")]
    repairing = by == "executor"
    attempts = min(WORKSPACE_REPAIRS, context.max_attempts) if repairing else 1
    source = Path(context.workspace_dir)
    copy = await acopy_workspace(source)
    runs: list[dict[str, Any]] = []
    accepted, worth = False, False
    try:
        sizes = {path: stamp.size for path, stamp in copy.stamps.items()}
        originals = await aread_files(copy, shown_files(job, list(sizes), sizes))
        before = await arun_project_tests(copy, timeout_s=context.execution_timeout_s)
        request = request_text(state)
        ask = asked_refactor(request, originals) if job.kind == "refactor" else None
        base: dict[str, str] = dict(originals)
        shown_output = before.output if job.kind == "fix" and not before.ok else ""
        rejected = ""
        last = earlier[-1] if earlier else None
        if last and last.get("files"):  # start from the rejected change and its tests
            base.update(last["files"])
            shown_output, rejected = str(last["stdout"]), str(last["feedback"])
        for attempt in range(len(earlier) + 1, len(earlier) + 1 + attempts):
            if runs:  # each attempt starts from the user's files as they were
                await adiscard(copy)
                copy = await acopy_workspace(source)
            reply = await sampled(chat, 0.0, GREEDY_SEED).ainvoke(
                workspace_messages(request, base, shown_output, rejected)
            )
            edits = files_in_reply(message_text(reply), _unnamed_to(job, originals))
            given, edits = edits, allowed_edits(edits, originals, ask)
            now = {**base, **edits}
            await awrite_files(copy, now)
            after = await arun_project_tests(copy, timeout_s=context.execution_timeout_s)
            verdict = verdict_of(job, before, after, ask, originals, now)
            worth = worth_repairing(job, before, after, given, edits)
            accepted = verdict.ok
            rejected = verdict.reason + not_taken(sorted(set(given) - set(edits)))
            runs.append(_run_record(attempt, by, now, originals, after, accepted, rejected))
            if accepted:
                break
            base, shown_output = now, after.output
        diff = await aunified_diff(copy) if accepted else ""
        applied, refused = None, ""
        if accepted and context.apply_changes:
            try:
                applied = await aapply(copy)
            except WorkspaceError as exc:  # a file changed since the run read it, …
                refused = str(exc)
    finally:
        await adiscard(copy)
    repair_next = not accepted and not repairing and context.max_attempts > 0 and worth
    if repair_next:
        return {"executions": runs}  # the executor repairs the draft next
    every = [*earlier, *runs]
    language = state.get("language") or detect_language(request)
    shown = applied.shown if applied else None
    answer = workspace_answer(job, before, every, diff, shown, refused, language)
    return {
        "executions": runs,
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
    now: Mapping[str, str],
    originals: Mapping[str, str],
    after: TestReport,
    accepted: bool,
    feedback: str,
) -> dict[str, Any]:
    """An attempt as the state keeps it: the files it changed and its tests' output."""
    edits = {path: text for path, text in now.items() if originals.get(path) != text}
    return {
        "step": 1,
        "attempt": attempt,
        "by": by,
        "workspace": True,
        "feedback": "" if accepted else feedback,
        "files": edits,
        "code": "\n\n".join(f"# {p}\n{t}" for p, t in edits.items()),
        "stdout": tail(after.output),
        "stderr": "",
        "exit_code": after.exit_code,
        "accepted": accepted,
        "checks_passed": len(after.passed),
        "checks_total": len(after.passed) + len(after.failed),
    }
