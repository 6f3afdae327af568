"""The founding design's Python API: a commander that takes a message and returns the answer.

    commander = create_smart_commander(brain_model="qwen2.5:14b", executor_model="qwen2.5-coder:7b")
    answer = await commander.process_message("Crie um script Python que soma 1 a 10")
    commander.get_status()

It drives the LangGraph workflow (`graph.build_graph`) with an in-memory checkpointer, so
one commander keeps one conversation. This is the application shell: it sits above
`graph/` in the import order (runtime <- tools <- nodes <- graph <- app), and
`orquestra/__init__` loads it only when `create_smart_commander` is first named.
"""

from __future__ import annotations

import uuid
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from graph.workflow import build_graph
from nodes.context import Context
from nodes.state import State
from orquestra.errors import OrquestraError
from orquestra.runtime import build_model_service, get_model_manager, set_model_manager
from orquestra.service import ModelService
from orquestra.settings import load_settings

# Settings that belong to a run's context rather than to the model manager.
CONTEXT_FIELDS = (
    "max_attempts",
    "max_iterations",
    "execution_timeout_s",
    "max_tool_rounds",
    "workspace_dir",
)


class SmartCommander:
    """One conversation with the brain and the executor through the workflow."""

    def __init__(
        self,
        manager: ModelService,
        *,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
        thread_id: str | None = None,
        **context: Any,
    ) -> None:
        set_model_manager(manager)  # the graph's nodes use the process-wide manager
        self.graph = build_graph(checkpointer or InMemorySaver())
        self.context = Context(
            brain_model=manager.lineup.model("brain"),
            executor_model=manager.lineup.model("executor"),
            swap_policy=manager.settings.swap_policy,
            **context,
        )
        self.thread_id = thread_id or uuid.uuid4().hex
        self.last_state: dict[str, Any] = {}
        self.last_error: str | None = None

    @property
    def manager(self) -> ModelService:
        """The process-wide manager (a run naming other models may have replaced it)."""
        return get_model_manager()

    @property
    def config(self) -> RunnableConfig:
        """The run config naming this conversation's thread."""
        return {"configurable": {"thread_id": self.thread_id}}

    async def process_message(self, text: str) -> str:
        """Run the workflow on `text` and return the answer.

        Expected failures (Ollama down, a model not pulled, one too large for the
        budget) come back as a one-line message naming the fix; the thread keeps its
        checkpoint, so sending the message again resumes where it stopped.
        """
        if not isinstance(text, str) or not text.strip():
            return "Empty message: write what you need, e.g. 'Crie um script que soma 1 a 10'."
        try:
            request: State = {"messages": [HumanMessage(text)]}
            state = await self.graph.ainvoke(request, self.config, context=self.context)
        except OrquestraError as exc:
            self.last_error = str(exc)
            return f"Error: {exc}"
        self.last_error = state.get("error")
        self.last_state = dict(state)
        answer = state["messages"][-1]
        return str(answer.text)

    def get_status(self) -> dict[str, Any]:
        """The manager's status plus the last route, swaps and error of this conversation."""
        status = self.manager.get_status()
        status["last_route"] = self.last_state.get("route")
        status["last_task_type"] = self.last_state.get("task_type")
        status["last_run_swaps"] = len(self.last_state.get("swaps", []))
        status["last_error_message"] = self.last_error
        status["thread_id"] = self.thread_id
        return status


def create_smart_commander(
    brain_model: str | None = None,
    executor_model: str | None = None,
    *,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    manager: ModelService | None = None,
    **settings: Any,
) -> SmartCommander:
    """Build a commander; `settings` are Orquestra settings or run-context fields.

    Args:
        brain_model: Ollama tag of the brain (default: `DEFAULT_MODEL`).
        executor_model: Ollama tag of the executor (default: `EXECUTOR_MODEL`).
        checkpointer: Where the conversation is kept (default: in memory).
        manager: An existing model manager to use instead of building one.
        **settings: Settings fields (e.g. `swap_policy`, `vram_budget_gb`) and context
            fields (`max_attempts`, `max_iterations`, `execution_timeout_s`, ...).
    """
    context = {k: settings.pop(k) for k in CONTEXT_FIELDS if k in settings}
    if manager is None:
        overrides = dict(settings)
        if brain_model:
            overrides["brain_model"] = brain_model
        if executor_model:
            overrides["executor_model"] = executor_model
        manager = build_model_service(load_settings(**overrides))
    return SmartCommander(manager, checkpointer=checkpointer, **context)
