"""Swap nodes: the explicit step on every edge where the graph crosses between models."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from nodes.common import manager_for, recording_swaps
from nodes.context import Context, context_of
from nodes.state import State
from nodes.stream import ErrorEvent, SwapStartEvent, emit
from orquestra.errors import ModelNotFoundError, ModelTooLargeError, OutOfMemoryError, PolicyError
from orquestra.settings import Role

# Failures that retrying cannot fix: the run ends with the error as its answer. Others
# (Ollama down, busy, an unload that hangs) raise, so the thread can resume later.
SETTLED_ERRORS = (ModelNotFoundError, ModelTooLargeError, PolicyError, OutOfMemoryError)


class SwapNode:
    """A node that makes `role`'s model resident (a no-op when it already is)."""

    def __init__(self, role: Role) -> None:
        self.role = role
        self.__name__ = f"swap_to_{role}"

    async def __call__(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        """Ensure the role's model, streaming the swap and recording it in the state."""
        manager = await manager_for(context_of(runtime))
        status = await manager.status()
        if not status.loaded(self.role):
            current = status.current_role
            message = f"swapping {current} → {self.role}" if current else f"loading {self.role}"
            emit(
                SwapStartEvent(
                    type="swap_start", to_role=self.role, from_role=current, message=message
                )
            )
        async with recording_swaps(manager) as events:
            try:
                await manager.ensure(self.role)
            except SETTLED_ERRORS as exc:
                emit(ErrorEvent(type="error", message=str(exc)))
                return {
                    "swaps": events,
                    "error": str(exc),
                    "messages": [AIMessage(f"I could not run the {self.role} model: {exc}")],
                }
        return {"swaps": events}


def make_swap_node(role: Role) -> SwapNode:
    """The swap node for `role`."""
    return SwapNode(role)
