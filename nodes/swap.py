"""Swap nodes: the explicit step on every edge where the graph crosses between models."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from nodes.common import emit, manager_for, recording_swaps
from nodes.context import Context
from nodes.state import State
from orquestra.settings import Role


class SwapNode:
    """A node that makes `role`'s model resident (a no-op when it already is)."""

    def __init__(self, role: Role) -> None:
        self.role = role
        self.__name__ = f"swap_to_{role}"

    async def __call__(self, state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        """Ensure the role's model, streaming the swap and recording it in the state."""
        manager = await manager_for(runtime.context)
        status = manager.get_status()
        if not status[f"{self.role}_loaded"]:
            current = status["current_role"]
            emit(
                {
                    "type": "swap_start",
                    "to_role": self.role,
                    "from_role": status["current_role"],
                    "message": f"swapping {current} → {self.role} …"
                    if current
                    else f"loading {self.role} …",
                }
            )
        async with recording_swaps(manager) as events:
            await manager.ensure(self.role)
        return {"swaps": events}


def make_swap_node(role: Role) -> SwapNode:
    """The swap node for `role`."""
    return SwapNode(role)
