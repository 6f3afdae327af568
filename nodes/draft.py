"""The draft node: the brain writes the change a workspace job asks of the user's files.

The brain reads the request, the project's files and its failing tests' output, and
answers with the changed files; the project's tests judge that on a private copy
(`nodes.workspace_step`). A draft the tests accept is the answer; one they reject goes to
the executor, which repairs it from the tests' output.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from nodes.common import manager_for
from nodes.context import Context, context_of
from nodes.state import State
from nodes.workspace_job import WorkspaceJob
from nodes.workspace_step import work_on_workspace


async def draft(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """The brain's change to the user's files, judged by the project's tests."""
    context = context_of(runtime)
    manager = await manager_for(context)
    job = WorkspaceJob.from_dict(state.get("workspace_job") or {})
    async with manager.use("brain") as chat:
        return await work_on_workspace(chat, state, context, job, by="brain")
