"""One manager per process per GPU: other models reconfigure it, never a second manager."""

from __future__ import annotations

import asyncio

import pytest

from orquestra.errors import ManagerBusyError
from orquestra.manager import ModelManager
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


async def test_other_models_wait_for_the_leases_then_replace_the_manager(
    wired: ModelManager, other_executor: str
) -> None:
    policy = wired.settings.swap_policy
    async with wired.use("brain"):
        asking = asyncio.create_task(amanager_for("", other_executor, policy))
        for _ in range(20):  # let it run as far as it can while the lease is held
            await asyncio.sleep(0.01)
        assert not asking.done() and get_model_manager() is wired
    replacement = await asking
    try:
        assert replacement is not wired and get_model_manager() is replacement
        assert replacement.model_for("executor") == other_executor
        assert replacement.model_for("brain") == wired.model_for("brain")
        # The replacement adopts what the server holds: the brain stays, no reload.
        async with replacement.use("brain"):
            pass
        assert replacement.get_status()["swaps"] == 0
    finally:
        await replacement.aclose()


async def test_other_models_are_refused_clearly_while_runs_keep_the_gpu(
    wired: ModelManager, other_executor: str
) -> None:
    async with wired.use("brain"):
        with pytest.raises(ManagerBusyError, match=r"DEFAULT_MODEL, EXECUTOR_MODEL") as caught:
            await amanager_for("", other_executor, wired.settings.swap_policy, wait_s=0.05)
    assert other_executor in str(caught.value) and get_model_manager() is wired


async def test_concurrent_runs_asking_for_the_same_new_models_share_one_manager(
    wired: ModelManager, other_executor: str
) -> None:
    policy = wired.settings.swap_policy
    first, second = await asyncio.gather(
        amanager_for("", other_executor, policy), amanager_for("", other_executor, policy)
    )
    try:
        assert first is second is get_model_manager() and first is not wired
    finally:
        await first.aclose()
