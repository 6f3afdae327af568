"""The graph from Python with its checkpoints in PostgreSQL: kept, read elsewhere, resumed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig

from graph import Context, build_graph
from orquestra import open_checkpointer
from orquestra.errors import BackendUnavailableError
from orquestra.manager import ModelManager
from tests.fakes.ollama import FakeOllamaState
from tests.graph_support import BRAIN, EXECUTOR, code_reply, plan_reply, plans, user

# What another interpreter prints of a thread it reads from the database.
READ_THREAD = """
import asyncio, sys
from graph import build_graph
from orquestra import open_checkpointer

async def main() -> None:
    async with open_checkpointer(sys.argv[1]) as saver:
        snapshot = await build_graph(saver).aget_state({"configurable": {"thread_id": sys.argv[2]}})
        print(repr(snapshot.next), snapshot.values["executions"][0]["stdout"].strip())
        print(snapshot.values["messages"][-1].content.splitlines()[0])

asyncio.run(main())
"""


async def test_a_runs_checkpoints_are_in_postgres_and_another_process_reads_them(
    wired: ModelManager, state: FakeOllamaState, pg_url: str, tmp_path: Path
) -> None:
    state.script(EXECUTOR, code_reply("print(sum(range(1, 11)))"))
    state.script(BRAIN, code_reply("print(55)"))  # confirms the script's result
    config: RunnableConfig = {"configurable": {"thread_id": "py-1"}}
    async with open_checkpointer(pg_url) as saver:
        final = await build_graph(saver).ainvoke(
            user("Crie um script Python que soma os números de 1 a 10 e mostre o resultado"),
            config,
            context=Context(),
            durability="sync",
        )
    assert "55" in final["messages"][-1].content
    reader = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        READ_THREAD,
        pg_url,
        "py-1",
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(reader.communicate(), timeout=120)
    assert reader.returncode == 0, err.decode()[-2000:]
    lines = out.decode().splitlines()
    assert lines[0] == "() 55"  # finished: no node pending, the run's output kept
    assert lines[1] == final["messages"][-1].content.splitlines()[0]


async def test_a_run_whose_backend_died_resumes_on_a_fresh_connection_without_planning_again(
    wired: ModelManager, state: FakeOllamaState, pg_url: str
) -> None:
    def plan_then_die(body: dict[str, Any]) -> str:
        state.down = True  # the server dies right after answering the plan
        return plan_reply(("sum", True))

    state.script(BRAIN, plan_then_die, code_reply("print(55)"), "The sum is 55.")
    state.script(EXECUTOR, code_reply("print(sum(range(1, 11)))"))
    config: RunnableConfig = {"configurable": {"thread_id": "py-2"}}
    async with open_checkpointer(pg_url) as saver:
        with pytest.raises(BackendUnavailableError, match="Cannot reach Ollama"):
            await build_graph(saver).ainvoke(
                user("Planeje e execute a soma de 1 a 10"),
                config,
                context=Context(),
                durability="sync",
            )
    state.down = False
    async with open_checkpointer(pg_url) as saver:  # as another process would: a new connection
        graph = build_graph(saver)
        assert (await graph.aget_state(config)).next == ("swap_to_executor",)
        final = await graph.ainvoke(None, config, context=Context(), durability="sync")
    assert final["messages"][-1].content.startswith("The sum is 55.")
    assert final["executions"][0]["stdout"] == "55\n"
    assert len(plans(state)) == 1  # the plan, a finished step, was not made again
    assert state.chats[f"{BRAIN}:latest"] == 3 and state.chats[EXECUTOR] == 1
