"""A front before several schedulers, each before its own strict fake Ollama and its own VRAM.

Nodes are `orquestra serve` apps (uvicorn in a thread; as processes where one is killed),
the front another; clients are Orquestra's own, `ollama.Client` and the OpenAI SDK.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import ollama
import openai
import pytest

from orquestra.backends.ollama import OllamaBackend
from orquestra.front.app import create_front
from orquestra.ledger import LEDGER_FILENAME, FootprintLedger
from orquestra.manager import ModelManager
from orquestra.server.app import create_app
from orquestra.settings import load_settings
from tests.fakes.ollama import FakeNvml, FakeOllama, FakeOllamaState, default_models
from tests.fakes.ollama.models import canonical
from tests.graph_support import BRAIN, EXECUTOR
from tests.orquestra.server.conftest import connect, free_port, serving, wait_until

HI = [{"role": "user", "content": "hi"}]
LOADED_BRAIN = canonical(BRAIN)  # as Ollama lists it


class NodeUnderTest:
    """One scheduler in a thread, before its own fake Ollama with `vram_gb` of VRAM."""

    def __init__(self, vram_gb: float) -> None:
        self.state = FakeOllamaState(default_models(), vram_total_gb=vram_gb)
        self.fake = FakeOllama(self.state).start()
        settings = load_settings(
            ollama_base_url=self.fake.url,
            vram_budget_gb=vram_gb,
            home_role="none",
            orquestra_url="none",
            home_after_s=0.2,
        )
        self.manager = ModelManager(
            settings,
            OllamaBackend(settings.ollama_base_url),
            probe=FakeNvml(self.state),
            ledger=FootprintLedger(settings.cache_dir / f"{vram_gb}-{LEDGER_FILENAME}"),
        )
        self.app = create_app(self.manager, max_queue=8)

    def resident(self) -> list[str]:
        return [m["name"] for m in self.state.ps()["models"]]


@contextmanager
def running(*vram_gb: float) -> Iterator[tuple[str, list[NodeUnderTest], list[str]]]:
    """Nodes of these VRAM sizes and a front before them: (front URL, nodes, node URLs)."""
    nodes = [NodeUnderTest(v) for v in vram_gb]
    with ExitStack() as stack:
        urls = [stack.enter_context(serving(n.app)) for n in nodes]
        front = create_front(urls, load_settings(node_poll_s=0.2))
        url = stack.enter_context(serving(front))
        wait_until(lambda: len(status(url)["nodes"]) == len(urls) and status(url)["front"]["up"])
        yield url, nodes, urls
        for node in nodes:
            node.fake.stop()


def status(url: str) -> dict[str, Any]:
    return httpx.get(url + "/orquestra/status", timeout=10).json()  # type: ignore[no-any-return]


def chat(url: str, model: str, **headers: str) -> httpx.Response:
    body = {"model": model, "messages": HI, "stream": False}
    return httpx.post(url + "/api/chat", json=body, headers=headers, timeout=60)


def test_two_nodes_settle_into_different_homes_and_a_hybrid_workload_makes_no_swaps() -> None:
    with running(16.0, 16.0) as (url, nodes, _):
        wait_until(lambda: [n["home_role"] for n in status(url)["nodes"]] == ["brain", "executor"])
        remote = connect(url, backend="ollama", ollama_base_url=nodes[0].fake.url)

        async def hybrid() -> list[str]:
            said = []
            for _ in range(4):  # plan, code, reflect, code, ... as a hybrid run does
                for role in ("brain", "executor"):
                    async with remote.use(role) as model:
                        said.append(str((await model.ainvoke("hi")).content))
            return said

        assert len(asyncio.run(hybrid())) == 8
        assert nodes[0].resident() == [LOADED_BRAIN] and nodes[1].resident() == [EXECUTOR]
        assert dict(nodes[0].state.loads) == {LOADED_BRAIN: 1}  # one load each, never a swap
        assert dict(nodes[1].state.loads) == {EXECUTOR: 1}
        assert sum(n.state.unload_requests.total() for n in nodes) == 0


def test_an_idle_resident_node_then_the_conversation_s_node_then_the_first() -> None:
    with running(16.0, 16.0, 24.0) as (url, nodes, urls):
        for node_url in (urls[0], urls[2]):  # the executor resident on a and c
            assert chat(node_url, EXECUTOR).status_code == 200
        wait_until(lambda: EXECUTOR in status(url)["nodes"][2]["resident"])
        a = httpx.Client(base_url=urls[0], timeout=30)
        with a.stream("POST", "/orquestra/lease", json={"role": "executor"}) as held:
            lines = held.iter_lines()
            next(lines)  # granted: a's executor is leased now
            wait_until(lambda: status(url)["nodes"][0]["leases"])
            before = nodes[2].state.chats[EXECUTOR]
            assert chat(url, EXECUTOR, **{"x-orquestra-affinity": "conv-1"}).status_code == 200
            assert nodes[2].state.chats[EXECUTOR] == before + 1  # c: idle and resident
        wait_until(lambda: not status(url)["nodes"][0]["leases"])
        assert chat(url, EXECUTOR, **{"x-orquestra-affinity": "conv-1"}).status_code == 200
        assert nodes[2].state.chats[EXECUTOR] == before + 2  # its KV is on c
        first = nodes[0].state.chats[EXECUTOR]
        assert chat(url, EXECUTOR).status_code == 200
        assert nodes[0].state.chats[EXECUTOR] == first + 1  # no conversation: the first
        assert nodes[1].state.loads.total() == 0


def test_a_lease_through_the_front_stays_on_its_node() -> None:
    with running(16.0, 16.0) as (url, nodes, urls):
        for node_url in urls:
            assert chat(node_url, EXECUTOR).status_code == 200
        wait_until(lambda: all(EXECUTOR in n["resident"] for n in status(url)["nodes"]))
        before = [n.state.chats[EXECUTOR] for n in nodes]
        remote = connect(url, backend="ollama", ollama_base_url=nodes[0].fake.url)

        async def five_calls() -> None:
            async with remote.use("executor") as model:
                for _ in range(5):  # b is idle with the model: only the lease keeps them on a
                    await model.ainvoke("hi")

        asyncio.run(five_calls())
        after = [n.state.chats[EXECUTOR] for n in nodes]
        assert after[0] - before[0] == 5 and after[1] == before[1]


def test_a_client_that_only_knows_ollama_s_api_works_through_the_front() -> None:
    with running(16.0, 24.0) as (url, nodes, _):
        for node in nodes:
            node.state.script(EXECUTOR, "olá")
        client = ollama.Client(host=url)
        assert client.chat(model=EXECUTOR, messages=HI).message.content == "olá"
        names = {m.model for m in client.list().models}
        assert {LOADED_BRAIN, EXECUTOR} <= names
        assert [m.model for m in client.ps().models] == [EXECUTOR]
        for node in nodes:
            node.state.script(EXECUTOR, "hello")
        sdk = openai.OpenAI(base_url=url + "/v1", api_key="unused")
        reply = sdk.chat.completions.create(model=EXECUTOR, messages=HI)  # type: ignore[arg-type]
        assert reply.choices[0].message.content == "hello"


def test_the_front_s_status_metrics_and_dashboard_show_every_node() -> None:
    with running(16.0, 16.0, 24.0) as (url, _, urls):
        assert chat(url, EXECUTOR).status_code == 200
        seen = status(url)
        assert [n["url"] for n in seen["nodes"]] == urls
        assert all(n["up"] and n["gpu_index"] == 0 for n in seen["nodes"])
        assert seen["nodes"][0]["resident"] == [EXECUTOR]
        assert seen["front"]["placed"] == [{"node": urls[0], "model": EXECUTOR, "count": 1}]
        assert seen["bytes"]["budget"] == (16 + 16 + 24) * 2**30
        metrics = httpx.get(url + "/metrics", timeout=10).text
        for node_url in urls:
            assert f'orquestra_node_up{{node="{node_url}"}} 1.0' in metrics
        assert f'orquestra_node_loaded_models{{model="{EXECUTOR}",node="{urls[0]}"}}' in metrics
        page = httpx.get(url + "/dashboard", timeout=10).text
        assert all(node_url in page for node_url in urls) and "3 of 3 nodes up" in page


def _node_process(fake: FakeOllama, port: int, vram_gb: float) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "OLLAMA_BASE_URL": fake.url,
        "ORQUESTRA_VRAM_BUDGET_GB": str(vram_gb),
        "ORQUESTRA_HOME_ROLE": "none",
    }
    command = [sys.executable, "-m", "orquestra.server", "--port", str(port)]
    return subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)


def test_a_node_killed_mid_load_is_taken_out_its_request_served_elsewhere_and_taken_back() -> None:
    states = [FakeOllamaState(default_models(), vram_total_gb=16.0) for _ in range(2)]
    fakes = [FakeOllama(s).start() for s in states]
    loading = threading.Event()
    states[0].load_time = lambda name: (loading.set(), 30.0)[1]  # a's load never ends in time
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    processes = [_node_process(f, p, 16.0) for f, p in zip(fakes, ports, strict=True)]
    try:
        for node_url in urls:
            wait_until(lambda u=node_url: _answers(u), timeout_s=60)
        with serving(create_front(urls, load_settings(node_poll_s=0.2))) as url:
            wait_until(lambda: status(url)["front"]["up"] == 2)
            answer: dict[str, int] = {}
            asking = threading.Thread(
                target=lambda: answer.update(s=chat(url, EXECUTOR).status_code)
            )
            asking.start()
            assert loading.wait(timeout=30)  # placed on a, which is loading
            processes[0].send_signal(signal.SIGKILL)
            asking.join(timeout=60)
            assert answer == {"s": 200}  # served by b instead
            assert states[1].chats[EXECUTOR] == 1
            wait_until(lambda: not status(url)["nodes"][0]["up"], timeout_s=10)
            assert status(url)["front"]["retried"] >= 1
            states[0].load_time = None
            processes[0] = _node_process(fakes[0], ports[0], 16.0)
            # Taken back in, and given its home again.
            wait_until(lambda: status(url)["nodes"][0]["home_role"] == "brain", timeout_s=60)
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=30)
        for fake in fakes:
            fake.stop()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/api/version", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_a_front_with_no_node_up_says_so_and_names_the_setting() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with serving(create_front([dead], load_settings(node_poll_s=0.2))) as url:
        refused = chat(url, EXECUTOR)
        assert refused.status_code == 503 and "ORQUESTRA_NODES" in refused.json()["error"]
        seen = httpx.get(url + "/orquestra/status", timeout=10)
        assert seen.status_code == 503 and seen.json()["nodes"][0]["up"] is False


def test_a_scheduler_says_which_gpu_it_budgets(server: FakeOllama, state: FakeOllamaState) -> None:
    settings = load_settings(ollama_base_url=server.url, gpu_index=1, orquestra_url="none")
    manager = ModelManager(settings, OllamaBackend(server.url), probe=FakeNvml(state))
    with serving(create_app(manager, max_queue=4)) as url:
        assert status(url)["serve"]["gpu_index"] == 1
        assert 'orquestra_gpu_info{index="1"' in httpx.get(url + "/metrics", timeout=10).text


@pytest.mark.parametrize("flag", [["--gpu", "x"]])
def test_serve_refuses_a_bad_gpu_index_with_one_line(flag: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "orquestra.app.entry", "serve", *flag],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr


def test_doctor_and_status_see_the_front_and_its_nodes() -> None:
    from orquestra.app.doctor import _scheduler_check
    from orquestra.client.remote import fetch_status
    from orquestra.client.trust import Trust

    with running(16.0, 24.0) as (url, _, urls):
        settings = load_settings(orquestra_url=url)
        check = _scheduler_check(settings)
        assert check.status == "ok" and "2 of 2 nodes up" in check.detail
        seen = fetch_status(Trust.of(url, settings))  # proven with the user's key
        assert [n["url"] for n in seen["nodes"]] == urls


def test_a_node_on_another_machine_is_reached_with_the_api_key_and_publishes_its_costs() -> None:
    """A node beyond loopback asks the key; the front sends it and checks the node's proof."""
    from tests.orquestra.server.test_client_auth import API_KEY, _network_address

    address = _network_address()
    node = NodeUnderTest(16.0)
    keyed = load_settings(
        ollama_base_url=node.fake.url, vram_budget_gb=16.0, home_role="none", api_key=API_KEY
    )
    manager = ModelManager(keyed, OllamaBackend(node.fake.url), probe=FakeNvml(node.state))
    with serving(create_app(manager, max_queue=8, bind_host="0.0.0.0"), host="0.0.0.0") as local:
        remote_url = local.replace("127.0.0.1", address)
        without = create_front([remote_url], load_settings(node_poll_s=0.2))
        with serving(without) as url:
            seen = httpx.get(url + "/orquestra/status", timeout=10).json()
            assert seen["nodes"][0]["up"] is False and "401" in seen["nodes"][0]["error"]
        front = create_front([remote_url], load_settings(node_poll_s=0.2, api_key=API_KEY))
        with serving(front) as url:
            wait_until(lambda: status(url)["front"]["up"] == 1)
            assert chat(url, EXECUTOR).status_code == 200
            costs = httpx.get(
                remote_url + "/orquestra/status",
                headers={"Authorization": f"Bearer {API_KEY}"},
                timeout=10,
            ).json()["serve"]["placement"]["costs"]
            assert costs[EXECUTOR]["load_s"] > 0 and costs[EXECUTOR]["footprint"] > 0
    node.fake.stop()
