"""The founding design's Python API: a commander that takes a message and returns the answer.

    commander = create_smart_commander(brain_model="qwen2.5:14b", executor_model="qwen2.5-coder:7b")
    answer = await commander.process_message("Crie um script Python que soma 1 a 10")
    commander.get_status()

It drives the LangGraph workflow (`graph.build_graph`); one commander keeps one
conversation (a thread) in the store `ORQUESTRA_DB_URL` names (PostgreSQL or SQLite: a
commander made later, in another process or on another machine, with the same
`thread_id` goes on with it) or, unset, in memory. This is the application shell: it sits
above `graph/` in the import order (runtime <- tools <- nodes <- graph <- app), and
`orquestra/__init__` loads it only when `create_smart_commander` is first named.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import EmptyInputError
from langgraph.graph.state import CompiledStateGraph

from graph.workflow import build_graph
from nodes.context import Context
from nodes.state import State
from orquestra.checkpoints import checkpoint_store, open_store
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
        self._checkpointer = checkpointer
        self._graph: CompiledStateGraph[State, Context, State, State] | None = None
        self._stores = AsyncExitStack()
        self._opening = asyncio.Lock()
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

    async def graph(self) -> CompiledStateGraph[State, Context, State, State]:
        """The workflow on this conversation's checkpointer (the store opened on first use)."""
        async with self._opening:
            if self._graph is None:
                saver = self._checkpointer
                if saver is None:
                    store = checkpoint_store(self.manager.settings.db_url.get_secret_value())
                    saver = await self._stores.enter_async_context(open_store(store))
                self._graph = build_graph(saver)
        return self._graph

    async def aclose(self) -> None:
        """Close the store this commander opened (a PostgreSQL connection, a SQLite file)."""
        await self._stores.aclose()
        self._graph = None

    async def __aenter__(self) -> SmartCommander:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def process_message(self, text: str) -> str:
        """Run the workflow on `text` and return the answer.

        Expected failures (Ollama down, a model not pulled, one too large for the
        budget) come back as a one-line message naming the fix; the thread keeps its
        last finished step, and `resume()` finishes the run from there.
        """
        if not isinstance(text, str) or not text.strip():
            return "Empty message: write what you need, e.g. 'Crie um script que soma 1 a 10'."
        return await self._run({"messages": [HumanMessage(text)]})

    async def resume(self) -> str:
        """Finish this thread's interrupted run where it stopped, and return the answer.

        The run may have stopped in this process (a failure) or in another one, on any
        machine sharing `ORQUESTRA_DB_URL`; no step that finished runs again. A finished
        run gives its answer again.
        """
        return await self._run(None)

    async def _run(self, request: State | None) -> str:
        try:
            graph = await self.graph()
            # Each step's checkpoint is written before the next step starts: a process
            # that dies leaves the thread at its last finished step.
            state = await graph.ainvoke(
                request, self.config, context=self.context, durability="sync"
            )
        except EmptyInputError:
            self.last_error = f"Nothing to resume: thread {self.thread_id!r} has no run."
            return f"Error: {self.last_error} Send a message to start one."
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
    thread_id: str | None = None,
    manager: ModelService | None = None,
    **settings: Any,
) -> SmartCommander:
    """Build a commander; `settings` are Orquestra settings or run-context fields.

    Args:
        brain_model: Ollama tag of the brain (default: `DEFAULT_MODEL`).
        executor_model: Ollama tag of the executor (default: `EXECUTOR_MODEL`).
        checkpointer: Where the conversation is kept (default: the store `ORQUESTRA_DB_URL`
            names, opened on the first message and closed by `aclose()`; unset: memory).
        thread_id: The conversation to go on with (default: a new one); with a database
            in `ORQUESTRA_DB_URL`, any process that names it continues it.
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
    return SmartCommander(manager, checkpointer=checkpointer, thread_id=thread_id, **context)
