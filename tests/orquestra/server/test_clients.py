"""Clients of one `orquestra serve`: the graph, other OS processes, OpenAI's API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from graph import Context, build_graph
from orquestra.runtime import set_model_manager
from orquestra.settings import load_settings
from tests.fakes.ollama import FakeOllama, FakeOllamaState, fake_model
from tests.graph_support import BRAIN, EXECUTOR, code_reply, user
from tests.orquestra.server.conftest import free_port, wait_until

ROOT = Path(__file__).resolve().parents[3]
GIB = 1024**3


async def test_the_graph_runs_through_the_scheduler_with_its_swaps_recorded(
    scheduler,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    remote = scheduler.connect()
    set_model_manager(remote)
    try:
        state.script(EXECUTOR, code_reply("print(sum(range(1, 11)))"))
        final = await build_graph().ainvoke(
            user("Write a Python script that prints the sum of 1 to 10"), context=Context()
        )
    finally:
        set_model_manager(None)
    assert "55" in str(final["messages"][-1].content)
    roles = [s["to_role"] for s in final["swaps"]]
    assert roles[0] == "executor"  # the swaps the scheduler made for this run's leases
    wait_until(lambda: scheduler.status()["leases"] == {"brain": 0, "executor": 0})
    status = (await remote.status()).as_dict()
    assert sum(state.loads.values()) == len(roles) == status["swaps"] and state.reloads == {}


async def test_a_run_naming_other_models_gets_them_through_the_scheduler(
    scheduler,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    state.models["qwen2.5-coder:7b"] = fake_model("qwen2.5-coder:7b", 5.0)
    state.script("qwen2.5-coder:7b", code_reply("print(6 * 7)"))
    remote = scheduler.connect()
    set_model_manager(remote)
    try:
        final = await build_graph().ainvoke(
            user("Write a Python script that prints 6 times 7"),
            context=Context(executor_model="qwen2.5-coder:7b", task_type="code"),
        )
    finally:
        set_model_manager(None)
    assert "42" in str(final["messages"][-1].content)
    assert state.loads["qwen2.5-coder:7b"] == 1 and state.loads[EXECUTOR] == 0
    lineups = scheduler.status()["lineups"]
    assert {lineup["executor"]["model"] for lineup in lineups} >= {"qwen2.5-coder:7b"}


async def test_model_calls_under_a_lease_take_no_second_one(
    scheduler,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    remote = scheduler.connect()
    state.script(EXECUTOR, "um", "dois")
    async with remote.use("executor") as chat:
        replies = [(await chat.ainvoke("oi")).content, (await chat.ainvoke("oi")).content]
        assert (await remote.status()).as_dict()["leases"]["executor"] == 1
    assert replies == ["um", "dois"]
    wait_until(lambda: scheduler.status()["leases"]["executor"] == 0)  # given back on close
    assert scheduler.status()["serve"]["calls_under_lease"] == 2
    await remote.aclose()


def test_openai_clients_get_completions_from_the_pinned_chat(
    scheduler,
    state: FakeOllamaState,  # type: ignore[no-untyped-def]
) -> None:
    models = httpx.get(f"{scheduler.url}/v1/models").json()
    assert {m["id"] for m in models["data"]} == {f"{BRAIN}:latest", EXECUTOR}
    state.script(EXECUTOR, "olá", "em partes")
    request = {"model": EXECUTOR, "messages": [{"role": "user", "content": "oi"}]}
    answer = httpx.post(f"{scheduler.url}/v1/chat/completions", json=request, timeout=30).json()
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == "olá"
    assert answer["choices"][0]["finish_reason"] == "stop"
    with httpx.stream(
        "POST", f"{scheduler.url}/v1/chat/completions", json={**request, "stream": True}
    ) as streamed:
        events = [line[6:] for line in streamed.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert text == "em partes"
    sent = [b for p, b in state.requests if p == "/api/chat" and b.get("messages")]
    assert all(b["options"]["num_ctx"] == 8192 for b in sent) and state.reloads == {}


MANAGER_CLIENT = """
import asyncio, sys
from orquestra.runtime import get_model_manager

async def main(rounds: int) -> None:
    manager = get_model_manager()
    for i in range(rounds):
        async with manager.use("brain" if i % 2 == 0 else "executor") as chat:
            await chat.ainvoke("oi")
    await manager.aclose()

asyncio.run(main(int(sys.argv[1])))
"""

PLAIN_CLIENT = """
import os, sys
import ollama

client = ollama.Client(host=os.environ["ORQUESTRA_URL"])
for i in range(int(sys.argv[1])):
    model = os.environ["DEFAULT_MODEL"] if i % 2 == 0 else os.environ["EXECUTOR_MODEL"]
    client.chat(model=model, messages=[{"role": "user", "content": "oi"}],
                options={"num_ctx": 2048 * (1 + i % 3)})
"""


@pytest.mark.parametrize("rounds", [8])
def test_three_processes_share_one_scheduler_without_errors_reloads_or_overcommit(
    server: FakeOllama, state: FakeOllamaState, tmp_path: Path, rounds: int
) -> None:
    state.gen_s = {f"{BRAIN}:latest": 0.2, EXECUTOR: 0.2}  # requests overlap, as in real use
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OLLAMA_BASE_URL": server.url,
        "ORQUESTRA_VRAM_BUDGET_GB": "16",
        "ORQUESTRA_HOME_ROLE": "none",
        "DEFAULT_MODEL": BRAIN,
        "EXECUTOR_MODEL": EXECUTOR,
    }
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "orquestra.server", "--port", str(port)],
        env={**env, "ORQUESTRA_URL": "none"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: _answers(url), timeout_s=60)
        clients = [
            subprocess.Popen(
                [sys.executable, "-c", code, str(rounds)],
                env={**env, "ORQUESTRA_URL": url},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            for code in (MANAGER_CLIENT, MANAGER_CLIENT, PLAIN_CLIENT)
        ]
        outputs = [c.communicate(timeout=240)[0].decode() for c in clients]
        assert [c.returncode for c in clients] == [0, 0, 0], "\n".join(outputs)
        status = httpx.get(f"{url}/orquestra/status", timeout=10).json()
    finally:
        scheduler.terminate()
        log = scheduler.communicate(timeout=30)[0].decode()
    uses = 3 * rounds
    loads = sum(state.loads.values())
    assert state.max_vram_used() <= 16 * GIB  # never both: 13 + 9 GiB do not fit
    assert state.reloads == {}  # the plain client's drifting num_ctx was pinned
    assert loads == status["swaps"]  # every load was the scheduler's: none implicit
    # Each use wants the other model than the client's last one: alone, every use would be
    # a load. Batched across clients, at most two thirds of them (about half, unloaded).
    assert loads <= uses * 2 // 3, (loads, uses)
    assert status["serve"]["option_pins"][f"{BRAIN}:latest"] >= 1
    assert "swapping" in log or "loading" in log  # one line per swap, with its stages
    assert all(code == 200 for (_, code) in _codes(status))


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/orquestra/status", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _codes(status: dict) -> list[tuple[str, int]]:  # type: ignore[type-arg]
    return [(r["model"], r["status"]) for r in status["serve"]["requests"]]


def test_status_and_doctor_talk_to_the_scheduler(
    scheduler,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    from typer.testing import CliRunner

    from orquestra.app.cli import app

    monkeypatch.setenv("ORQUESTRA_URL", scheduler.url)
    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["serve"]["held_leases"] == 0 and status["executor_model"] == EXECUTOR
    from orquestra.app.doctor import _scheduler_check

    monkeypatch.setenv("OLLAMA_BASE_URL", scheduler.upstream_url)
    check = _scheduler_check(load_settings())
    assert check.status == "ok" and f"orquestra serve at {scheduler.url}" in check.detail
    # A process for another upstream would be refused by this hand-started one: said now.
    other = _scheduler_check(load_settings(backend="embedded"))
    assert other.status == "fail" and "the embedded models" in other.detail
    assert "started by hand" in other.detail and "ORQUESTRA_URL" in other.fix
