"""Writing code that passes the request's checks: candidates, runs, debugging, rescue.

A small coder rarely repairs its own code from one failing check, so the budget goes
where it pays (measured by `bench/humaneval.py`): the executor's first, greedy answer; if
the checks reject it, fresh samples (another draw often gets right what the first got
wrong); and when they all fail, the brain writes the step from the request as it answers
best alone (shown the executor's failed attempt instead, it did no better), then, as far
as `rescue_attempts` reaches, repairs its own code from the failing check and draws one
more sample (`RESCUE_PLAN`). The first candidate that passes wins.

Every candidate runs in the sandbox against the checks of `tools.checks`; a candidate
identical to one already run is not run again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage

from nodes.code_runs import count_code_run
from nodes.common import message_text, tail
from nodes.prompts import (
    DEBUG_PROMPT,
    EXECUTOR_FUNCTION_SYSTEM,
    EXECUTOR_STEP,
    EXECUTOR_SYSTEM,
)
from nodes.stream import CodeRunEvent, emit, emit_thinking
from tools.checks import CheckedRun, CheckTally, arun_checked
from tools.extract import extract_code
from tools.sandbox import ExecutionResult
from tools.spec import Spec, definitions_only

Strategy = Literal["greedy", "sample", "debug"]
Writer = Literal["executor", "brain"]

NO_CODE_ERROR = "No Python code block was found in the reply."
# Sampling for candidates after the first (greedy) one: diverse but still on task.
SAMPLE_TEMPERATURE = 0.8
# Seeds of the sampled candidates (fixed, so a run is reproducible).
SAMPLE_SEED_BASE = 1000
# What the executor's candidates after the first are: fresh samples, or fixes of the last
# one with its failure shown (measured by bench/humaneval.py --retry).
RETRY_STRATEGY: Strategy = "sample"
# How much of a failure the coder is shown when asked to fix it.
FAILURE_CHARS = 2000
# The brain's rescue, in order, as far as `rescue_attempts` reaches: its greedy answer, up
# to two repairs of its own code from the failing check (stopped early when a repair
# changes nothing), then one sampled candidate (measured stage by stage: bench/humaneval.py).
RESCUE_PLAN: tuple[Strategy, ...] = ("greedy", "debug", "debug", "sample")


@dataclass(frozen=True)
class CodeTask:
    """One code step: what to write, and the checks its code must pass."""

    step: int
    request: str
    """The user's request, verbatim (the coder always sees the exact signature)."""
    spec: Spec
    earlier: str = ""
    """Outputs of earlier steps, for later steps of a plan."""
    feedback: str = ""
    """The brain's revision request from a previous round."""
    iteration: int = 0
    derived_checks: bool = False
    """The spec's examples are cases the brain derived, not the request's own."""

    @property
    def kind(self) -> str:
        """`function` when checked by calling functions, else `script`."""
        return "function" if self.spec.is_function_task else "script"


def strategies(attempts: int) -> list[Strategy]:
    """The executor's plan for `attempts` candidates: greedy first, then RETRY_STRATEGY."""
    later: list[Strategy] = [RETRY_STRATEGY] * max(attempts - 1, 0)
    return ["greedy", *later][: max(attempts, 0)]


def rescue_strategies(attempts: int) -> list[Strategy]:
    """The brain's plan for `attempts` rescue candidates: RESCUE_PLAN, then more samples."""
    more: list[Strategy] = ["sample"] * max(attempts - len(RESCUE_PLAN), 0)
    return [*RESCUE_PLAN, *more][: max(attempts, 0)]


def sampled(chat: BaseChatModel, temperature: float, seed: int) -> BaseChatModel:
    """`chat` with this temperature and seed, for the chat models that declare them."""
    declared = type(chat).model_fields
    update = {
        name: value
        for name, value in (("temperature", temperature), ("seed", seed))
        if name in declared
    }
    return chat.model_copy(update=update) if update else chat


def coder_messages(task: CodeTask) -> list[AnyMessage]:
    """The coder's prompt: the request verbatim, earlier outputs, the reviewer's feedback.

    The plan's wording of the step is left out on purpose: the request is the
    specification, and a paraphrase misleads a small coder (measured: "the first 20
    primes" planned as "iterate over the numbers up to 20" gave the primes below 20).
    """
    system = EXECUTOR_FUNCTION_SYSTEM if task.kind == "function" else EXECUTOR_SYSTEM
    prompt = EXECUTOR_STEP.format(
        request=task.request,
        context=task.earlier,
        feedback=f"\n\nReviewer's request: {task.feedback}" if task.feedback else "",
    )
    return [SystemMessage(system), HumanMessage(prompt)]


def rescue_messages(task: CodeTask) -> list[AnyMessage]:
    """The brain's prompt: for a function, the request as the brain answers it best alone.

    No system prompt of ours: the model's own chat template and default system prompt,
    with the request (and, on a revision, the reviewer's words) as the only message. Asked
    with the coder's system prompt instead, the rescue solved 7 of the 22 held-out problems
    that reached it where the same brain asked bare solved 10 (issue 26). A script keeps
    the coder's prompt: it must print its result to be checked at all.
    """
    if task.kind != "function":
        return coder_messages(task)
    feedback = f"\n\nReviewer's request: {task.feedback}" if task.feedback else ""
    prompt = EXECUTOR_STEP.format(request=task.request, context=task.earlier, feedback=feedback)
    return [HumanMessage(prompt)]


def _record(
    task: CodeTask,
    attempt: int,
    by: Writer,
    strategy: Strategy,
    checked: CheckedRun,
    model_s: float,
) -> dict[str, Any]:
    result = checked.result
    return {
        "step": task.step,
        "attempt": attempt,
        "iteration": task.iteration,
        "by": by,
        "strategy": strategy,
        "kind": task.kind,
        "code": result.code,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "exit_code": result.exit_code,
        "timed_out": result.timed_out,
        "duration_s": result.duration_s,
        "model_s": round(model_s, 3),
        "isolation": list(result.isolation),
        "accepted": checked.accepted,
        "checks": {"passed": checked.tally.passed, "total": checked.tally.total},
        "derived_checks": task.derived_checks,
        "problem": checked.problem,
    }


def _no_code(text: str) -> CheckedRun:
    result = ExecutionResult("", NO_CODE_ERROR, None, False, 0.0, False, (), "")
    return CheckedRun(result, CheckTally(0, 0), False, NO_CODE_ERROR + f"\nThe reply was:\n{text}")


async def _candidate(
    chat: BaseChatModel,
    task: CodeTask,
    conversation: Sequence[AnyMessage],
    strategy: Strategy,
    *,
    by: Writer,
    attempt: int,
    seed: int,
    timeout_s: float,
    ran: dict[str, CheckedRun],
) -> tuple[Any, dict[str, Any], CheckedRun]:
    """One candidate: ask `chat`, extract the code, run it against the checks."""
    model = sampled(chat, SAMPLE_TEMPERATURE if strategy == "sample" else 0.0, seed)
    emit_thinking(by, attempt=attempt)
    started = time.perf_counter()
    reply = await model.ainvoke(list(conversation))
    model_s = time.perf_counter() - started
    text = message_text(reply)
    code = extract_code(text)
    if code and task.kind == "function":
        code = definitions_only(code)
    if not code:
        checked = _no_code(text)
    elif code in ran:
        checked = ran[code]
    else:
        checked = ran[code] = await arun_checked(code, task.spec, timeout_s=timeout_s)
        count_code_run(checked.result)
    return reply, _record(task, attempt, by, strategy, checked, model_s), checked


async def write_until_accepted(
    chat: BaseChatModel,
    task: CodeTask,
    base: Sequence[AnyMessage],
    plan: Sequence[Strategy],
    *,
    by: Writer,
    first_attempt: int,
    timeout_s: float,
) -> list[dict[str, Any]]:
    """Ask `chat` for candidates as `plan` says, running each, until one is accepted.

    A repair ("debug") that gives back code already run, or fails the same way as the
    candidate it repaired, ends the repairs: the plan goes on with its next other strategy.
    """
    runs: list[dict[str, Any]] = []
    ran: dict[str, CheckedRun] = {}
    conversation = list(base)
    stalled = False
    for index, strategy in enumerate(plan):
        if strategy == "debug" and stalled:
            continue
        if strategy == "sample":
            conversation = list(base)
        reply, run, checked = await _candidate(
            chat,
            task,
            conversation,
            strategy,
            by=by,
            attempt=first_attempt + len(runs),
            seed=_seed(index),
            timeout_s=timeout_s,
            ran=ran,
        )
        if strategy == "debug" and runs:
            repeated = run["code"] in {r["code"] for r in runs}
            stalled = repeated or run["problem"] == runs[-1]["problem"]
        runs.append(run)
        emit(_event(run))
        if checked.accepted:
            break
        conversation.append(
            reply if isinstance(reply, AIMessage) else AIMessage(message_text(reply))
        )
        conversation.append(
            HumanMessage(
                DEBUG_PROMPT.format(
                    exit_code=run["exit_code"],
                    timeout=", timed out" if run["timed_out"] else "",
                    problem=tail(checked.problem, FAILURE_CHARS),
                    stdout=tail(run["stdout"], FAILURE_CHARS // 2),
                )
            )
        )
    return runs


def _seed(index: int) -> int:
    return SAMPLE_SEED_BASE + index


def _event(run: dict[str, Any]) -> CodeRunEvent:
    return CodeRunEvent(
        type="code_run",
        step=run["step"],
        attempt=run["attempt"],
        by=run["by"],
        exit_code=run["exit_code"],
        timed_out=run["timed_out"],
        accepted=run["accepted"],
        checks=run["checks"],
        stdout=tail(run["stdout"], 500),
        stderr=tail(run["stderr"], 500),
    )
