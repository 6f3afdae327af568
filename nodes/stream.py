"""The events nodes send on LangGraph's custom stream, typed for everyone who reads them.

Studio shows them, `orquestra run` renders them (`orquestra.app.run_view`), tests and
scripts read them from `graph.astream(..., stream_mode="custom")`. On the wire each is a
plain JSON object tagged by `type`; here each is a `TypedDict`, so a node that sends a
field the reader does not know, or forgets one it needs, fails the type check. A swap's
fields are its `orquestra.events.SwapEvent`'s, declared on the record alone: the event is
built from one (`swap_done`) and read back as one (`SwapEvent.from_dict`).
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, cast

from langgraph.config import get_config, get_stream_writer

from orquestra.events import SwapEvent
from orquestra.settings import Role


class RouteEvent(TypedDict):
    """The route node's decision."""

    type: Literal["route"]
    task_type: str
    role: Role
    confidence: float
    reasons: list[str]
    source: str


class SwapStartEvent(TypedDict):
    """A swap node is about to wait for a model (a swap may or may not be needed)."""

    type: Literal["swap_start"]
    to_role: Role
    from_role: Role | None
    message: str


class SwapDoneEvent(TypedDict):
    """A swap happened: its one-line message, beside every field of its `SwapEvent`.

    The fields are `SwapEvent.as_dict()`'s, declared once, on the record: read them with
    `SwapEvent.from_dict(event)` (it ignores `type` and `message`), not key by key.
    """

    type: Literal["swap"]
    message: str


class _Thinking(TypedDict):
    type: Literal["thinking"]
    role: Role
    node: str | None
    """The node asking, as the graph names it (None outside a graph run)."""


class ThinkingEvent(_Thinking, total=False):
    """A model was asked something and is reading its prompt."""

    attempt: int
    """Which candidate the model is writing (code steps only)."""


class PlanEvent(TypedDict):
    """The brain's plan."""

    type: Literal["plan"]
    goal: str
    steps: list[dict[str, Any]]


class CodeRunEvent(TypedDict):
    """One candidate's run in the sandbox, and what its checks said."""

    type: Literal["code_run"]
    step: int
    attempt: int
    by: Role
    exit_code: int | None
    timed_out: bool
    accepted: bool
    checks: dict[str, Any]
    stdout: str
    stderr: str


class ReflectEvent(TypedDict):
    """The brain's verdict on the results."""

    type: Literal["reflect"]
    verdict: str
    iteration: int


class ErrorEvent(TypedDict):
    """A run ended early; the message names the fix."""

    type: Literal["error"]
    message: str


StreamEvent = (
    RouteEvent
    | SwapStartEvent
    | SwapDoneEvent
    | ThinkingEvent
    | PlanEvent
    | CodeRunEvent
    | ReflectEvent
    | ErrorEvent
)


def emit(event: StreamEvent) -> None:
    """Send an event on the custom stream (a no-op outside a streaming run)."""
    try:
        writer = get_stream_writer()
    except RuntimeError:  # called outside a graph run
        return
    writer(event)


def current_node() -> str | None:
    """The name the graph gave the node now running (None outside a graph run)."""
    try:
        metadata = get_config().get("metadata") or {}
    except RuntimeError:  # called outside a graph run
        return None
    node = metadata.get("langgraph_node")
    return None if node is None else str(node)


def emit_thinking(role: Role, attempt: int | None = None) -> None:
    """Stream that `role`'s model is at work in this node, named as the graph names it."""
    event = ThinkingEvent(type="thinking", role=role, node=current_node())
    if attempt is not None:
        event["attempt"] = attempt
    emit(event)


def swap_done(event: SwapEvent) -> SwapDoneEvent:
    """A swap event as streamed and stored in the state: its message and its fields."""
    payload = {"type": "swap", "message": event.describe(), **event.as_dict()}
    return cast(SwapDoneEvent, payload)  # the fields beyond `type` and `message` are SwapEvent's
