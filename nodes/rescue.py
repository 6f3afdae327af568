"""The rescue node: the brain writes the code the executor could not, or could not verify.

The brain, three times the executor's size, writes the step from the request itself, a
function asked as the brain answers best alone (`nodes.solve.rescue_messages`; measured
by bench/humaneval.py: shown the executor's failed attempt and its failing check instead,
it solved the same problems, so the simpler prompt stays), then, if the
checks reject that and `rescue_attempts` allows, fixes its own code from the failing
check or traceback. Functions the request gave no example to check come here too (with
`derived_checks`, the brain first derives test cases from the specification:
`nodes.derived_checks`), and
scripts, which no check can verify: the brain writes its own and the two results are
compared; on disagreement the larger model's result counts (measured: both executor
candidates printed F(31) for "the 30th Fibonacci number", the brain F(30)). On a
hybrid task the brain is resident for the reflection anyway, so this costs no swap; on
the code path it is the swap the home model makes anyway once the executor is idle.

Revisions come here too: when the reflection finds that an output contradicts the request,
the brain (resident, so no swap either way) rewrites the code with the reviewer's request
and what the last code printed, and reflects again. Sending it back to the executor cost
two swaps and, measured, the small coder repeated its misreading of the request.

On the code path the brain, still resident, then opens the answer with the result said in
a sentence (`nodes.result_sentence`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from nodes.answer import asks_for_explanation, chosen_runs, code_answer, last_run
from nodes.code_tasks import code_tasks, run_timeout
from nodes.common import manager_for, request_text, tail
from nodes.context import Context, context_of
from nodes.derived_checks import derive_cases, with_cases
from nodes.grounding import same_result
from nodes.result_sentence import brain_lead
from nodes.solve import CodeTask, rescue_messages, rescue_strategies, write_until_accepted
from nodes.state import State
from orquestra.language import detect_language

# How much of the last output a revision shows the brain.
PRINTED_CHARS = 1500


def _revision(task: CodeTask, previous: Mapping[str, Any] | None) -> CodeTask:
    """The task with the reviewer's request and what the last script printed."""
    if previous is None or not task.feedback:
        return task
    printed = tail(str(previous.get("stdout") or previous.get("stderr") or ""), PRINTED_CHARS)
    feedback = f"{task.feedback}\nThe previous code printed:\n{printed}"
    return replace(task, feedback=feedback)


def _compare(written: list[dict[str, Any]], tried: list[dict[str, Any]]) -> None:
    """On a script the executor's code settled, say whether the brain's result agrees."""
    settled = [r for r in tried if r.get("accepted") and r.get("kind") == "script"]
    if settled and written and written[-1]["accepted"]:
        theirs = str(settled[-1]["stdout"])
        written[-1]["confirms"] = same_result(written[-1]["stdout"], theirs)
        written[-1]["executor_stdout"] = theirs


async def rescue(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Have the brain write every pending step: failed, unverified, or sent back to revise."""
    context = context_of(runtime)
    manager = await manager_for(context)
    pending = set(state.get("pending_rescue") or [])
    executions = state.get("executions", [])
    runs: list[dict[str, Any]] = []
    async with manager.use("brain") as chat:
        for task in code_tasks(state):
            tried = [r for r in executions if r["step"] == task.step]
            if task.step not in pending or not tried:
                continue
            task = _revision(task, chosen_runs(tried).get(task.step))
            if context.derived_checks and task.kind == "function" and not task.spec.examples:
                cases = await derive_cases(chat, task)
                task = with_cases(task, cases) if cases else task
            written = await write_until_accepted(
                chat,
                task,
                rescue_messages(task),
                rescue_strategies(max(context.rescue_attempts, 1)),
                by="brain",
                first_attempt=max(r["attempt"] for r in tried) + 1,
                timeout_s=run_timeout(task, context),
            )
            _compare(written, tried)
            runs += written
        update: dict[str, Any] = {"executions": runs, "pending_rescue": [], "feedback": None}
        if state.get("task_type") != "hybrid":
            # The brain is still resident: it says the result as a person would.
            request = request_text(state)
            language = detect_language(request)
            every = [*executions, *runs]
            explain = asks_for_explanation(request)
            lead = await brain_lead(chat, request, last_run(every), language, explain=explain)
            answer = code_answer(every, language, context.max_attempts, lead)
            update["messages"] = [AIMessage(answer)]
    return update
