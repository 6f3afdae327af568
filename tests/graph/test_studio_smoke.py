"""`langgraph dev` serves the graph and runs it: the Studio path, driven by langgraph_sdk.

The server runs as its own process (with blocking-call detection on, as users get it),
against the fake Ollama server started here.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_client

from tests.fakes.ollama import FakeOllama, FakeOllamaState, default_models, demo_reply

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 90.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[tuple[str, FakeOllamaState]]:
    cli = Path(sys.executable).with_name("langgraph")
    if not cli.exists() and shutil.which("langgraph") is None:
        pytest.skip("langgraph-cli is not installed (pip install -e '.[dev]')")
    state = FakeOllamaState(default_models())
    state.default_reply = demo_reply
    fake = FakeOllama(state).start()
    port = _free_port()
    env = {
        **os.environ,
        "OLLAMA_BASE_URL": fake.url,
        "ORQUESTRA_VRAM_BUDGET_GB": "16",
        "ORQUESTRA_HOME_ROLE": "none",
        "ORQUESTRA_CACHE_DIR": str(tmp_path / "cache"),
        "LANGSMITH_TRACING": "false",
    }
    log = (tmp_path / "langgraph-dev.log").open("wb")
    server = subprocess.Popen(
        [
            str(cli) if cli.exists() else "langgraph",
            "dev",
            "--port",
            str(port),
            "--no-browser",
            "--no-reload",
            "--host",
            "127.0.0.1",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(f"langgraph dev exited: {(tmp_path / 'langgraph-dev.log').read_text()}")
            try:
                if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("langgraph dev did not start in time")
        yield url, state
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
        log.close()
        fake.stop()


async def test_langgraph_dev_serves_and_runs_the_graph(
    studio: tuple[str, FakeOllamaState],
) -> None:
    url, _ = studio
    client = get_client(url=url)
    assistants = await client.assistants.search(graph_id="orquestra")
    assert assistants, "graph id 'orquestra' is not served"
    final = await client.runs.wait(
        None,
        "orquestra",
        input={"messages": [{"role": "user", "content": "Planeje e execute a soma de 1 a 10"}]},
    )
    assert isinstance(final, dict) and "__error__" not in final, final
    assert final["task_type"] == "hybrid"
    assert final["executions"][0]["stdout"] == "55\n"
    assert "55" in final["messages"][-1]["content"]
    assert [s["to_role"] for s in final["swaps"]] == ["brain", "executor", "brain"]
    custom = [
        part.data
        async for part in client.runs.stream(
            None,
            "orquestra",
            stream_mode="custom",
            input={
                "messages": [{"role": "user", "content": "Crie um script Python que soma 1 a 10"}]
            },
        )
        if part.event == "custom"
    ]
    assert any(e["type"] == "swap" and e["message"].startswith("swapping") for e in custom)
    assert any(e["type"] == "code_run" and e["stdout"] == "55\n" for e in custom)
