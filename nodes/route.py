"""The route node: which path the request takes, decided without causing a swap."""

from __future__ import annotations

from typing import Any, cast

from langgraph.runtime import Runtime

from nodes.common import emit, manager_for, request_text
from nodes.context import Context
from nodes.state import RESET, State
from orquestra.language import detect_language
from orquestra.router import (
    ASK_MODEL_BELOW,
    TASK_ROLES,
    IntelligentRouter,
    RouteDecision,
    TaskType,
)

ROUTER = IntelligentRouter()


async def route(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Classify the request; when unsure, ask the model that is already resident."""
    text = request_text(state)
    forced = runtime.context.task_type
    if forced != "auto":
        task_type = cast(TaskType, forced)
        decision = RouteDecision(
            task_type, TASK_ROLES[task_type], 1.0, (f"task_type={forced} in the run context",)
        )
    else:
        decision = ROUTER.classify(text)
    if decision.confidence < ASK_MODEL_BELOW and text.strip():
        manager = await manager_for(runtime.context)
        resident = manager.get_status()["current_role"]
        if resident is not None:
            async with manager.use(resident) as chat:
                decision = await ROUTER.aclassify(text, chat)
    route_info = {
        "task_type": decision.task_type,
        "role": decision.role,
        "confidence": decision.confidence,
        "reasons": list(decision.reasons),
        "source": decision.source,
    }
    if decision.task_type in ("code", "hybrid"):
        # The executor will be needed (after the plan, for hybrid tasks): start reading its
        # weights now, so the read overlaps with planning and with unloading the brain.
        manager = await manager_for(runtime.context)
        await manager.prefetch("executor")
    emit({"type": "route", **route_info})
    return {
        "task_type": decision.task_type,
        "route": route_info,
        "plan": None,
        "iteration": 0,
        "feedback": None,
        "tool_rounds": 0,
        "error": None,
        "pending_rescue": [],
        "language": detect_language(text),
        "executions": [RESET],
        "swaps": [RESET],
    }


def after_route(state: State) -> str:
    """Brain paths (conversation, planning, hybrid) or the executor's code path."""
    return "swap_to_executor" if state.get("task_type") == "code" else "swap_to_brain"
