"""The state the nodes read and write.

`graph.state.State` is this type; it lives beside the nodes so imports keep pointing one
way (orquestra <- tools <- nodes <- graph).
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

# First item of an update that replaces a per-turn list instead of extending it.
RESET: dict[str, Any] = {"reset": True}


def this_turn(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reducer of per-turn lists: extend, or start over when the update begins with RESET."""
    if right and right[0] == RESET:
        return list(right[1:])
    return [*left, *right]


class State(TypedDict, total=False):
    """Everything a run knows; the final state is what callers read."""

    messages: Annotated[list[AnyMessage], add_messages]
    """The conversation; the last message is the answer."""
    task_type: str
    """planning, code, hybrid or conversation (from the router)."""
    route: dict[str, Any]
    """The router's decision: role, confidence, reasons, source."""
    plan: dict[str, Any] | None
    """The brain's structured plan: goal and steps, each saying whether it needs code."""
    executions: Annotated[list[dict[str, Any]], this_turn]
    """This turn's code runs: step, attempt, by, code, stdout, stderr, exit_code, accepted."""
    swaps: Annotated[list[dict[str, Any]], this_turn]
    """Swap events of this turn (model loads, with their timed stages)."""
    notes: Annotated[list[str], operator.add]
    """Fallbacks taken and why (e.g. a model without tool support)."""
    iteration: int
    """Revision round of a hybrid task (0 for the first execution)."""
    feedback: str | None
    """The brain's revision request for the next execution round."""
    tool_rounds: int
    """Tool-calling rounds the brain has used in this answer."""
    pending_rescue: list[int]
    """Code steps whose candidates all failed, for the brain to rescue."""
    language: str
    """Language of the request (en, pt, es): answers, plans and explanations use it."""
    workspace_job: dict[str, Any] | None
    """A fix or refactor of the user's files (`nodes.workspace_job.WorkspaceJob.as_dict`)."""
    workspace: dict[str, Any]
    """What the executor did to them: the accepted diff, and whether it was applied."""
    error: str | None
    """Why the run stopped early (a model not pulled, too large, refused by the policy)."""
