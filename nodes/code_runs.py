"""The graph's sandbox runs, counted in `orquestra.telemetry` (`orquestra_code_runs_total`).

The sandbox (`tools`) knows nothing of the runtime: it returns each run's `ExecutionResult`,
and the nodes that ran the code hand it here, the one place a run of the graph is counted.
The telemetry's subscribers see every run (a process that uses `orquestra serve` forwards
each to it).
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AnyMessage, ToolMessage

from orquestra.telemetry import code_run_outcome, record_code_run
from tools.sandbox import ExecutionResult


def count_code_run(result: ExecutionResult) -> None:
    """Count one sandbox run by how it ended (exit 0, another exit, timeout, sandbox error)."""
    record_code_run(
        code_run_outcome(result.exit_code, timed_out=result.timed_out, error=result.error)
    )


def count_tool_runs(messages: Sequence[AnyMessage]) -> list[AnyMessage]:
    """The tools' replies, each sandbox run among them counted and then left out.

    The `run_python` tool gives its `ExecutionResult` back as the tool message's artifact.
    The model saw the run's summary in the content, so the state keeps that alone: not the
    run a second time, nor an object a checkpointer would have to serialise.
    """
    replies: list[AnyMessage] = []
    for message in messages:
        if isinstance(message, ToolMessage) and isinstance(message.artifact, ExecutionResult):
            count_code_run(message.artifact)
            message = message.model_copy(update={"artifact": None})
        replies.append(message)
    return replies
