"""Every expected failure ends in one clear error that names its fix."""

from __future__ import annotations

import socket

import pytest

from orquestra.backends import ollama as ollama_backend
from orquestra.backends.ollama import OllamaBackend
from orquestra.errors import (
    BackendUnavailableError,
    ModelNotFoundError,
    ModelTooLargeError,
    OutOfMemoryError,
    PolicyError,
    ServerBusyError,
    SwapTimeoutError,
)
from orquestra.manager import ModelManager
from orquestra.settings import load_settings
from tests.conftest import BRAIN, EXECUTOR, ManagerFactory
from tests.fakes.ollama import OOM_MESSAGE, FakeOllamaState, NoNvml, fake_model


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_someone_elses_model(state: FakeOllamaState) -> None:
    """A 2 GiB model another program loaded: small enough to stay beside the brain."""
    state.models["small:1b"] = fake_model("small:1b", 2.0, num_ctx=4096)
    state.ensure_loaded("small:1b", {"num_gpu": 999}, -1)
    state.finish("small:1b")


async def test_unreachable_ollama_names_the_url_and_how_to_start_it() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    settings = load_settings(ollama_base_url=url, vram_budget_gb=16)
    manager = ModelManager(settings, OllamaBackend(url), probe=NoNvml())
    with pytest.raises(BackendUnavailableError) as info:
        await manager.ensure("brain")
    assert url in str(info.value) and "ollama serve" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert manager.get_status()["last_error"] == str(info.value)
    await manager.aclose()


async def test_model_not_pulled_names_ollama_pull(make_manager: ManagerFactory) -> None:
    manager = make_manager(executor_model="qwen2.5-coder:32b")
    with pytest.raises(ModelNotFoundError, match=r"ollama pull qwen2\.5-coder:32b"):
        await manager.ensure("executor")
    # The brain still works: one role's error does not poison the manager.
    await manager.ensure("brain")


async def test_out_of_memory_unloads_what_is_not_leased_and_retries_once(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    load_someone_elses_model(state)
    state.load_failures = [(500, OOM_MESSAGE)]
    manager = make_manager()
    await manager.ensure("brain")
    event = manager.events[-1]
    assert event.oom_retry and event.from_models == ("small:1b",)
    assert BRAIN in state.runners and "small:1b" not in state.runners


async def test_out_of_memory_twice_is_a_clear_error(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    load_someone_elses_model(state)
    state.load_failures = [(500, OOM_MESSAGE), (500, OOM_MESSAGE)]
    manager = make_manager()
    with pytest.raises(OutOfMemoryError, match="out of memory"):
        await manager.ensure("brain")


async def test_busy_server_is_retried_with_backoff(
    make_manager: ManagerFactory, state: FakeOllamaState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ollama_backend, "BUSY_RETRY_DELAYS_S", (0.01, 0.02, 0.04))
    state.busy_503 = 2
    manager = make_manager()
    await manager.ensure("brain")
    assert BRAIN in state.runners


async def test_busy_server_gives_up_after_bounded_retries(
    make_manager: ManagerFactory, state: FakeOllamaState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ollama_backend, "BUSY_RETRY_DELAYS_S", (0.01, 0.02))
    state.busy_503 = 100
    manager = make_manager()
    with pytest.raises(ServerBusyError, match="OLLAMA_MAX_QUEUE"):
        await manager.ensure("brain")
    assert state.busy_503 == 100 - 3


async def test_model_larger_than_the_budget_is_refused_before_loading(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    manager = make_manager(vram_budget_gb=12)
    with pytest.raises(ModelTooLargeError, match="ORQUESTRA_ALLOW_PARTIAL_OFFLOAD"):
        await manager.ensure("brain")
    assert state.loads[BRAIN] == 0


async def test_a_partly_offloaded_model_is_unloaded_and_refused(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    state.vram_total = 12 * 1024**3  # the card is smaller than the budget claims
    manager = make_manager(brain_num_gpu=-1)
    with pytest.raises(ModelTooLargeError, match=r"only \d+ % on the GPU"):
        await manager.ensure("brain")
    assert state.unload_requests[BRAIN] == 1


async def test_partial_offload_is_accepted_when_opted_in(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    state.vram_total = 12 * 1024**3
    manager = make_manager(brain_num_gpu=-1, allow_partial_offload=True)
    await manager.ensure("brain")
    assert state.runners[BRAIN].size_vram < state.runners[BRAIN].size


async def test_coresident_policy_refuses_models_that_do_not_fit_together(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    manager = make_manager(swap_policy="coresident")
    await manager.ensure("brain")
    with pytest.raises(PolicyError, match="ORQUESTRA_SWAP_POLICY=auto"):
        await manager.ensure("executor")
    assert BRAIN in state.runners and state.loads[EXECUTOR] == 0


async def test_a_model_stuck_unloading_times_out_with_advice(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    manager = make_manager(unload_timeout_s=0.2)
    await manager.ensure("brain")
    state.unload_ps_s = 30.0
    with pytest.raises(SwapTimeoutError, match="ollama stop"):
        await manager.ensure("executor")
    assert state.loads[EXECUTOR] == 0


async def test_unknown_role_is_rejected(make_manager: ManagerFactory) -> None:
    manager = make_manager()
    with pytest.raises(ValueError, match="'brain' or 'executor'"):
        await manager.ensure("coder")


async def test_every_waiter_of_a_failing_role_gets_the_error(
    make_manager: ManagerFactory,
) -> None:
    import asyncio

    manager = make_manager(executor_model="missing:1b")
    results = await asyncio.gather(
        *(manager.ensure("executor") for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, ModelNotFoundError) for r in results)
    assert manager.get_status()["queued"] == {}


async def test_after_an_unload_times_out_the_leaving_model_is_not_granted(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    import asyncio
    import time

    manager = make_manager(unload_timeout_s=0.2)
    await manager.ensure("brain")
    state.unload_ps_s = 30.0  # the brain was asked to stop and keeps leaving
    swap = asyncio.create_task(manager.ensure("executor"))
    while not state.unload_requests[BRAIN]:  # the swap has asked the brain to leave
        await asyncio.sleep(0.01)
    brain = await asyncio.gather(manager.ensure("brain"), return_exceptions=True)
    with pytest.raises(SwapTimeoutError):
        await swap
    # The queued brain request was not granted the model being unloaded: it waited for
    # it to leave and got the same clear error, not a chat on a stopping runner.
    assert isinstance(brain[0], SwapTimeoutError) and "ollama stop" in str(brain[0])
    assert state.chats[BRAIN] == 0 and state.loads[EXECUTOR] == 0

    with state.lock:  # the brain finally leaves: the next request loads it anew
        state.runners[BRAIN].leave_ps_at = time.monotonic()
        state.runners[BRAIN].free_at = time.monotonic()
    await manager.ensure("brain")
    assert state.loads[BRAIN] == 2 and manager.get_status()["brain_loaded"]
