"""`orquestra run`'s work: one request (or an interrupted run) on a thread, shown as it runs.

The thread's checkpoints are kept where `ORQUESTRA_DB_URL` says; each step's checkpoint
is written before the next step starts, so a run a Ctrl-C, a crash or a lost machine
interrupts resumes after its last finished step (`orquestra run --thread ID --resume`),
in any process that reaches the same database. Which run to make is decided in
`orquestra.app.threads`; this module carries it out.
"""

from __future__ import annotations

import asyncio
from contextlib import nullcontext
from pathlib import Path
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from rich.console import Console
from rich.text import Text

from graph.workflow import build_graph
from nodes.context import Context
from nodes.state import State
from orquestra.app.run_view import RunView
from orquestra.app.threads import decide_start, thread_line
from orquestra.checkpoints import CheckpointStore, open_store
from orquestra.runtime import build_model_service, set_model_manager
from orquestra.settings import Settings


async def run_request(
    message: str | None,
    *,
    thread: str,
    store: CheckpointStore,
    settings: Settings,
    console: Console,
    as_json: bool,
    context: Context | None = None,
) -> dict[str, Any]:
    """Run `message` on `thread` (or, with no message, resume its interrupted run).

    `context`: the run's context (its workspace and whether to apply changes to it).
    """
    from langchain_core.messages import HumanMessage

    async with open_store(store) as saver:
        graph = build_graph(saver)
        config: RunnableConfig = {"configurable": {"thread_id": thread}}
        last = await graph.aget_state(config)
        start = decide_start(
            thread,
            resume=message is None,
            store=store,
            has_run=last.created_at is not None,
            pending=last.next,
        )
        if store.persistent and not as_json:
            console.print(Text(thread_line(thread, store), style="dim"))
        if start.finished:
            if not as_json:
                console.print(f"The run in thread {thread} had finished: nothing to resume.")
                if last.values.get("messages"):
                    RunView(console).answer(str(last.values["messages"][-1].content))
            return dict(last.values)
        request: State | None = None
        if not start.resume:
            request = {"messages": [HumanMessage(message or "")]}
        return await _stream(
            graph, request, config, settings, console, as_json, context or Context()
        )


async def _stream(
    graph: CompiledStateGraph[State, Context, State, State],
    request: State | None,
    config: RunnableConfig,
    settings: Settings,
    console: Console,
    as_json: bool,
    context: Context,
) -> dict[str, Any]:
    from langchain_core.messages import AIMessageChunk

    manager = await asyncio.to_thread(build_model_service, settings)
    set_model_manager(manager)
    if not as_json and manager.lineup.upstream.backend == "embedded":
        from orquestra.app.models_cmd import fetch_embedded

        # A first run fetches the models (1.5 GiB, once): show it, not a silent minute.
        await asyncio.to_thread(fetch_embedded, manager.settings.cache_dir, console)
    final: dict[str, Any] = {}
    view = RunView(console)
    try:
        with view if not as_json else nullcontext(view):
            # Each step's checkpoint is written before the next one starts, so an
            # interrupted run resumes after its last finished step.
            async for part in graph.astream(
                request,
                config,
                context=context,
                stream_mode=["custom", "messages", "values"],
                durability="sync",
            ):
                mode, chunk = cast(tuple[str, Any], part)
                if mode == "values":
                    final = chunk
                elif as_json:
                    continue
                elif mode == "messages":
                    token, meta = chunk
                    if isinstance(token, AIMessageChunk) and isinstance(token.content, str):
                        view.token(str(meta.get("langgraph_node", "")), token.content)
                else:
                    view.event(chunk)
            if not as_json and final.get("messages"):
                view.answer(str(final["messages"][-1].content))
    finally:
        await manager.aclose()
    return final


def run_context(workspace: Path | None, apply: bool) -> Context:
    """The run's context: the flags over the environment (`ORQUESTRA_WORKSPACE`, …)."""
    given: dict[str, Any] = {}
    if workspace is not None:
        given["workspace_dir"] = str(workspace.resolve())
    if apply:
        given["apply_changes"] = True
    return Context(**given)
