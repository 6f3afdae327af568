"""One manager per process per GPU: other models are other lineups of it, never a second."""

from __future__ import annotations

import asyncio

import pytest

from orquestra.errors import ManagerBusyError
from orquestra.manager import LineupView, ModelManager
from orquestra.runtime import amanager_for, get_model_manager
from tests.conftest import BRAIN, EXECUTOR
from tests.fakes.ollama import FakeOllamaState, fake_model

OTHER_EXECUTOR = "qwen2.5-coder:7b"


@pytest.fixture
def other_executor(state: FakeOllamaState) -> str:
    state.models[OTHER_EXECUTOR] = fake_model(OTHER_EXECUTOR, 5.0)
    return OTHER_EXECUTOR


async def test_the_same_models_get_the_same_manager(wired: ModelManager) -> None:
    assert await amanager_for("", "", wired.settings.swap_policy) is wired
    assert await amanager_for(BRAIN, EXECUTOR, wired.settings.swap_policy) is wired


async def test_other_models_are_served_at_once_by_the_same_manager(
    wired: ModelManager, other_executor: str, state: FakeOllamaState
) -> None:
    policy = wired.settings.swap_policy
    async with wired.use("brain"):
        # Another run's lineup needs no new manager, so it does not wait for this lease.
        other = await asyncio.wait_for(amanager_for("", other_executor, policy), 5)
        assert isinstance(other, LineupView) and other.manager is wired
        assert get_model_manager() is wired
        assert other.lineup.model("executor") == other_executor
        assert other.lineup.model("brain") == wired.lineup.model("brain")
        async with other.use("brain"):  # the same brain, one lease count, no reload
            assert (await other.status()).state(wired.lineup.model("brain")).leases == 2
    await other.ensure("executor")
    assert state.loads[other_executor] == 1 and state.loads[EXECUTOR] == 0
    status = await other.status()
    assert status.current_role == "executor" and status.lineup.executor.model == other_executor
    # Both lineups are served by the one manager, and its status says so.
    assert {lineup.executor.model for lineup in status.lineups} == {EXECUTOR, other_executor}


async def test_another_policy_waits_for_the_leases_then_replaces_the_manager(
    wired: ModelManager,
) -> None:
    async with wired.use("brain"):
        asking = asyncio.create_task(amanager_for("", "", "alternate"))
        for _ in range(20):  # let it run as far as it can while the lease is held
            await asyncio.sleep(0.01)
        assert not asking.done() and get_model_manager() is wired
    replacement = await asking
    try:
        assert replacement is not wired and get_model_manager() is replacement
        assert isinstance(replacement, ModelManager)
        assert replacement.settings.swap_policy == "alternate"
        # The replacement adopts what the server holds: the brain stays, no reload.
        async with replacement.use("brain"):
            pass
        assert replacement.get_status()["swaps"] == 0
    finally:
        await replacement.aclose()


async def test_another_policy_is_refused_clearly_while_runs_keep_the_gpu(
    wired: ModelManager,
) -> None:
    async with wired.use("brain"):
        with pytest.raises(ManagerBusyError, match=r"ORQUESTRA_SWAP_POLICY") as caught:
            await amanager_for("", "", "alternate", wait_s=0.05)
    assert "alternate" in str(caught.value) and get_model_manager() is wired


async def test_concurrent_runs_asking_for_the_same_new_models_share_one_manager(
    wired: ModelManager, other_executor: str
) -> None:
    policy = wired.settings.swap_policy
    first, second = await asyncio.gather(
        amanager_for("", other_executor, policy), amanager_for("", other_executor, policy)
    )
    assert isinstance(first, LineupView) and isinstance(second, LineupView)
    assert first.manager is second.manager is wired is get_model_manager()
    assert first.lineup == second.lineup
