"""The route node: which path the request takes, decided without causing a swap."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, cast

from langgraph.runtime import Runtime

from nodes.common import manager_for, request_text
from nodes.context import Context, context_of
from nodes.state import RESET, State
from nodes.stream import RouteEvent, emit
from nodes.workspace_job import workspace_job
from orquestra.errors import RequestTooLongError
from orquestra.language import detect_language
from orquestra.router import (
    ASK_MODEL_BELOW,
    TASK_ROLES,
    IntelligentRouter,
    RouteDecision,
    TaskType,
)
from orquestra.settings import ROLES

ROUTER = IntelligentRouter()
# Characters per token when a request's size is estimated before any model sees it (a
# generous figure: prose runs 3.5-4.5 characters a token, so this rarely over-counts).
CHARS_PER_TOKEN = 4.0
# Room each model needs beside the request: system prompt, plan or results, the reply.
PROMPT_RESERVE_TOKENS = 1536
# Files a workspace is searched for the names a request gives (the first found, in order).
MAX_WORKSPACE_FILES = 5000
# Directories never searched (tools' and environments' own).
SKIPPED_DIRS = frozenset({".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", ".tox"})
CONTEXT_VARIABLES = {"brain": "ORQUESTRA_BRAIN_NUM_CTX", "executor": "ORQUESTRA_EXECUTOR_NUM_CTX"}


def workspace_files(root: Path) -> list[str]:
    """The workspace's files, as relative paths (blocking: call it in a thread)."""
    found: list[str] = []
    if not root.is_dir():
        return found
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS)
        base = Path(directory).relative_to(root)
        for name in sorted(names):
            found.append((base / name).as_posix())
            if len(found) >= MAX_WORKSPACE_FILES:
                return found
    return found


def check_fits(text: str, contexts: dict[str, int]) -> None:
    """Raise a clear error when `text` cannot fit in a model's context window.

    Ollama would cut such a prompt silently (the model answering a request it saw only
    the end of), llama.cpp would refuse it with a bare ValueError.

    Raises:
        RequestTooLongError: The message names both sizes and the setting to change.
    """
    tokens = int(len(text) / CHARS_PER_TOKEN)
    for role, window in sorted(contexts.items(), key=lambda item: item[1]):
        if tokens + PROMPT_RESERVE_TOKENS > window:
            raise RequestTooLongError(
                f"The request is about {tokens:,} tokens ({len(text):,} characters), but the "
                f"{role}'s context window holds {window:,} with {PROMPT_RESERVE_TOKENS:,} "
                f"needed for its instructions and reply. Send a shorter request (or the part "
                f"that matters), or raise {CONTEXT_VARIABLES[role]} if memory allows."
            )


async def route(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Classify the request; when unsure, ask the model that is already resident."""
    text = request_text(state)
    context = context_of(runtime)
    manager = await manager_for(context)
    check_fits(text, {role: manager.lineup.spec(role).options["num_ctx"] for role in ROLES})
    forced = context.task_type
    if forced != "auto":
        task_type = cast(TaskType, forced)
        decision = RouteDecision(
            task_type, TASK_ROLES[task_type], 1.0, (f"task_type={forced} in the run context",)
        )
    else:
        decision = ROUTER.classify(text)
    job = None
    if forced in ("auto", "code"):
        files = await asyncio.to_thread(workspace_files, Path(context.workspace_dir))
        job = workspace_job(text, files)
    if job is not None:
        decision = RouteDecision(
            "code",
            "brain",
            1.0,
            (
                f"a {job.kind} of the workspace's {', '.join(job.files + job.tests)}: the "
                "brain drafts it, the executor repairs it from the tests",
            ),
        )
    elif decision.confidence < ASK_MODEL_BELOW and text.strip():
        resident = (await manager.status()).current_role
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
        await manager.prefetch("executor")
    emit(
        RouteEvent(
            type="route",
            task_type=decision.task_type,
            role=decision.role,
            confidence=decision.confidence,
            reasons=list(decision.reasons),
            source=decision.source,
        )
    )
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
        "workspace_job": job.as_dict() if job else None,
        "workspace": {},
    }
