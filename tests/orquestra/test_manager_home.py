"""The home model: the brain comes back by itself once the executor has gone idle."""

from __future__ import annotations

import asyncio

from tests.conftest import BRAIN, EXECUTOR, ManagerFactory
from tests.fakes.ollama import FakeOllamaState

GRACE_S = 0.3


async def wait_for(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


async def test_brain_comes_back_after_the_executor_grace_period(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    manager = make_manager(home_role="brain", home_after_s=GRACE_S)
    await manager.ensure("brain")
    async with manager.use("executor"):
        pass
    released = asyncio.get_running_loop().time()
    assert await wait_for(lambda: manager.get_status()["brain_loaded"])
    back = asyncio.get_running_loop().time()
    assert back - released >= GRACE_S
    event = manager.events[-1]
    assert event.reason == "home" and event.to_role == "brain" and event.from_role == "executor"
    assert state.loads[BRAIN] == 2


async def test_brain_never_returns_while_executor_work_is_held(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    manager = make_manager(home_role="brain", home_after_s=GRACE_S)
    async with manager.use("executor"):
        await asyncio.sleep(GRACE_S * 3)
        assert state.loads[BRAIN] == 0
        assert EXECUTOR in state.runners


async def test_brain_never_returns_while_executor_work_is_queued(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    """Back-to-back executor leases with gaps shorter than the grace keep the executor."""
    manager = make_manager(home_role="brain", home_after_s=GRACE_S)
    for _ in range(6):
        async with manager.use("executor"):
            await asyncio.sleep(0.02)
        await asyncio.sleep(GRACE_S / 3)
    assert state.loads[BRAIN] == 0 and state.loads[EXECUTOR] == 1


async def test_a_brain_request_during_the_home_swap_joins_it(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    state.load_s = 0.3
    manager = make_manager(home_role="brain", home_after_s=0.05)
    await manager.ensure("executor")
    assert await wait_for(lambda: manager.get_status()["swapping_to"] == "brain")
    async with manager.use("brain"):
        pass
    assert state.loads[BRAIN] == 1
    assert [e.reason for e in manager.events] == ["request", "home"]


async def test_home_none_leaves_the_executor_resident(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    manager = make_manager(home_role="none", home_after_s=0.01)
    await manager.ensure("brain")
    await manager.ensure("executor")
    await asyncio.sleep(0.2)
    assert state.loads[BRAIN] == 1 and EXECUTOR in state.runners


async def test_no_home_swap_when_both_models_fit(
    make_manager: ManagerFactory, state: FakeOllamaState
) -> None:
    from tests.fakes.ollama import fake_model

    state.models = {m.name: m for m in [fake_model("b7", 7.0), fake_model("c5", 5.0)]}
    manager = make_manager(
        brain_model="b7", executor_model="c5", home_role="brain", home_after_s=0.01
    )
    await manager.ensure("brain")
    await manager.ensure("executor")
    await asyncio.sleep(0.2)
    assert sum(state.loads.values()) == 2 and sum(state.unload_requests.values()) == 0
