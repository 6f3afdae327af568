"""The manager against the fake Ollama server: swaps, budgets, leases, option pinning."""

from __future__ import annotations

import asyncio
import json

from orquestra.ledger import LEDGER_FILENAME
from orquestra.policy.decision import GIB
from tests.conftest import BRAIN, EXECUTOR, ManagerFactory
from tests.fakes.ollama import FakeOllamaState, fake_model


def overlaps(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> bool:
    return any(s1 < e2 and s2 < e1 for s1, e1 in a for s2, e2 in b)


async def test_alternate_policy_never_holds_both_models(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    manager = make_manager(swap_policy="alternate")
    for role in ["brain", "executor", "brain", "executor", "brain"]:
        async with manager.use(role):
            assert state.runners.keys() == {manager.model_for(role)}
    assert not overlaps(state.residency(BRAIN), state.residency(EXECUTOR))
    assert state.max_vram_used() <= 16 * GIB
    assert manager.get_status()["swaps"] == 5
    assert state.events("oom") == []


async def test_auto_policy_alternates_a_13_and_a_9_on_16(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    manager = make_manager()
    await manager.ensure("brain")
    await manager.ensure("executor")
    assert not overlaps(state.residency(BRAIN), state.residency(EXECUTOR))
    event = manager.events[-1]
    assert event.from_role == "brain" and event.to_role == "executor"
    assert event.from_models == (manager.model_for("brain"),)


async def test_models_that_fit_together_both_stay_without_unload(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    state.models = {m.name: m for m in [fake_model("brain7", 7.0), fake_model("coder5", 5.0)]}
    manager = make_manager(brain_model="brain7", executor_model="coder5")
    for role in ["brain", "executor", "brain", "executor"]:
        await manager.ensure(role)
    status = manager.get_status()
    assert status["brain_loaded"] and status["executor_loaded"]
    assert sum(state.unload_requests.values()) == 0
    assert sum(state.loads.values()) == 2
    assert status["vram_used_gb"] == 12.0


async def test_load_waits_until_the_unloaded_model_has_really_left(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    state.unload_ps_s, state.vram_release_s = 0.25, 0.2
    manager = make_manager()
    await manager.ensure("brain")
    await manager.ensure("executor")
    freed = state.events("vram_freed", BRAIN)[0].t
    gone = state.events("ps_gone", BRAIN)[0].t
    started = state.events("load_start", EXECUTOR)[0].t
    assert gone <= freed <= started
    assert manager.events[-1].vram_wait_s >= 0.4
    assert manager.events[-1].vram_converged


async def test_without_nvml_the_load_still_waits_for_ps_to_clear(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    state.unload_ps_s, state.vram_release_s = 0.2, 0.05
    manager = make_manager(nvml=False)
    await manager.ensure("brain")
    await manager.ensure("executor")
    gone = state.events("ps_gone", BRAIN)[0].t
    assert state.events("load_start", EXECUTOR)[0].t >= gone
    assert manager.events[-1].vram_wait_s >= 0.2
    assert not overlaps(state.residency(BRAIN), state.residency(EXECUTOR))
    assert manager.get_status()["nvml"] is False


async def test_twenty_concurrent_leases_stay_in_budget_and_batch_per_model(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    manager = make_manager()
    await manager.ensure("brain")
    held: list[str] = []

    async def work(i: int) -> str:
        role = "brain" if i % 2 == 0 else "executor"
        async with manager.use(role) as chat:
            model = manager.model_for(role)
            # The lease is real: the model is loaded on the server for the whole lease.
            assert model in state.runners and not state.runners[model].stop_requested
            reply = await chat.ainvoke(f"task {i}")
            await asyncio.sleep(0.01)
            assert model in state.runners and not state.runners[model].stop_requested
            held.append(role)
            return str(reply.content)

    replies = await asyncio.gather(*(work(i) for i in range(20)))
    assert replies == ["ok"] * 20 and len(held) == 20
    assert sum(state.loads.values()) <= 4
    assert state.max_vram_used() <= 16 * GIB
    assert not overlaps(state.residency(BRAIN), state.residency(EXECUTOR))
    assert sum(state.reloads.values()) == 0
    assert manager.get_status()["leases"] == {"brain": 0, "executor": 0}


async def test_pinned_options_never_cause_a_reload(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    manager = make_manager(executor_num_ctx=16384)
    for _ in range(3):
        async with manager.use("executor") as chat:
            await chat.ainvoke("write code")
    assert state.loads[EXECUTOR] == 1 and state.reloads[EXECUTOR] == 0
    chats = [b for path, b in state.requests if path == "/api/chat"]
    loads = [
        b
        for path, b in state.requests
        if path == "/api/generate" and "keep_alive" in b and b.get("keep_alive") != 0
    ]
    assert all(b["options"] == {"num_ctx": 16384, "num_gpu": 999} for b in chats + loads)
    assert state.runners[EXECUTOR].options["num_ctx"] == 16384


async def test_the_fake_server_does_reload_on_option_drift(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    """Guard for the test above: a request with other options really reloads."""
    manager = make_manager()
    async with manager.use("executor") as chat:
        await chat.ainvoke("hi", options={"num_ctx": 2048})
    assert state.reloads[EXECUTOR] == 1


async def test_footprints_are_measured_and_kept_for_the_next_session(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    manager = make_manager()
    await manager.ensure("executor")
    event = manager.events[0]
    assert event.footprint_gb == 9.0 and event.estimated_gb != event.footprint_gb
    path = manager.settings.cache_dir / LEDGER_FILENAME
    saved = json.loads(path.read_text())
    key = f"{EXECUTOR}|num_ctx=8192,num_gpu=999"
    assert saved["entries"][key]["size"] == state.runners[EXECUTOR].size
    fresh = make_manager()
    await fresh.ledger.aload()
    assert fresh.ledger.get(EXECUTOR, {"num_ctx": 8192, "num_gpu": 999}) is not None


async def test_status_has_the_founding_design_keys(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    manager = make_manager()
    await manager.ensure("brain")
    status = manager.get_status()
    for key in (
        "current_model",
        "current_role",
        "vram_used_gb",
        "vram_total_gb",
        "brain_loaded",
        "executor_loaded",
        "policy",
        "budget_gb",
        "swaps",
        "last_swap_s",
    ):
        assert key in status
    assert status["current_role"] == "brain" and status["current_model"] == BRAIN
    assert status["brain_loaded"] and not status["executor_loaded"]
    assert status["vram_used_gb"] == 13.0 and status["vram_total_gb"] == 16.0
    assert status["swaps"] == 1 and status["last_swap_s"] > 0


async def test_swap_events_record_every_stage(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    manager = make_manager()
    seen = []
    manager.subscribe(seen.append)
    await manager.ensure("brain")
    await manager.ensure("executor")
    event = seen[-1]
    assert (event.from_role, event.to_role, event.reason) == ("brain", "executor", "request")
    assert event.unload_s > 0 and event.vram_wait_s > 0 and event.load_s >= state.load_s
    assert event.vram_before_gb == 13.0 and event.vram_after_gb == 9.0
    assert "swapping brain → executor" in event.describe()


async def test_an_existing_resident_model_is_adopted_without_loading(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    first = make_manager()
    await first.ensure("brain")
    second = make_manager()
    await second.ensure("brain")
    assert state.loads[BRAIN] == 1 and second.get_status()["swaps"] == 0


async def test_models_loaded_by_someone_else_are_evicted_to_respect_the_budget(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    state.models["llava:7b"] = fake_model("llava:7b", 8.0, num_ctx=4096)
    status, _, _ = state.ensure_loaded("llava:7b", {"num_gpu": 999}, -1)
    state.finish("llava:7b")
    assert status == 200
    manager = make_manager()
    await manager.ensure("executor")
    assert "llava:7b" not in state.runners
    assert manager.events[-1].from_models == ("llava:7b",)
    assert manager.events[-1].from_role is None


async def test_a_stream_of_brain_work_never_starves_the_executor(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    manager = make_manager(batch_limit=3)
    await manager.ensure("brain")
    order: list[str] = []

    async def brain_job(i: int) -> None:
        await asyncio.sleep(0.005 * i)
        async with manager.use("brain"):
            order.append(f"b{i}")
            await asyncio.sleep(0.03)

    async def executor_job() -> None:
        await asyncio.sleep(0.012)
        async with manager.use("executor"):
            order.append("E")

    await asyncio.gather(executor_job(), *(brain_job(i) for i in range(20)))
    # The executor arrived after b0..b2; at most batch_limit newer brain jobs went first.
    assert order.index("E") <= 3 + 3
    assert sum(state.loads.values()) <= 4


async def test_fake_server_can_evict_like_ollama_for_the_baseline(
    state: FakeOllamaState,
    server,  # type: ignore[no-untyped-def]
) -> None:
    """The benchmark's 'leave it to Ollama' baseline: the server evicts idle models itself."""
    import ollama

    state.auto_evict, state.sched_poll_s = True, 0.01
    client = ollama.AsyncClient(host=server.url)
    for model in (BRAIN, EXECUTOR, BRAIN):
        await client.chat(
            model=model,
            messages=[{"role": "user", "content": "hi"}],
            options={"num_ctx": 8192, "num_gpu": 999},
        )
    assert sum(state.loads.values()) == 3 and state.events("oom") == []
    assert not overlaps(state.residency(BRAIN), state.residency(EXECUTOR))


async def test_fake_server_queues_like_ollama_for_the_batch_baseline(
    state: FakeOllamaState,
    server,  # type: ignore[no-untyped-def]
) -> None:
    """Concurrent requests pass one at a time in arrival order; a busy model is waited for.

    Brain, executor, brain sent together: the executor's request waits for the brain to go
    idle (no out-of-memory), and the second brain request, queued behind it, reloads the
    brain: the alternation Ollama's first-come first-served queue gives.
    """
    import ollama

    state.auto_evict, state.sched_poll_s = True, 0.01
    state.fifo, state.num_parallel = True, 1
    state.gen_s = {BRAIN: 0.05, EXECUTOR: 0.05}
    client = ollama.AsyncClient(host=server.url)

    async def ask(model: str, delay: float) -> None:
        await asyncio.sleep(delay)
        await client.chat(
            model=model,
            messages=[{"role": "user", "content": "hi"}],
            options={"num_ctx": 8192, "num_gpu": 999},
        )

    await asyncio.gather(ask(BRAIN, 0), ask(EXECUTOR, 0.01), ask(BRAIN, 0.02))
    assert [e.model for e in state.events("load_start")] == [BRAIN, EXECUTOR, BRAIN]
    assert state.events("oom") == []
    assert not overlaps(state.residency(BRAIN), state.residency(EXECUTOR))
