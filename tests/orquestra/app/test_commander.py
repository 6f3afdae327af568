"""The commander API uses the one process-wide manager; a new one closes the one it replaces."""

from __future__ import annotations

import asyncio

import pytest

import orquestra
from orquestra.manager import ModelManager
from orquestra.runtime import get_model_manager, set_model_manager
from tests.fakes.ollama import FakeOllamaState
from tests.graph_support import BRAIN


async def test_a_second_commander_replaces_and_closes_the_first_manager(
    make_manager,  # type: ignore[no-untyped-def]
    state: FakeOllamaState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first: ModelManager = make_manager()
    closed: list[ModelManager] = []
    close_first = first.aclose

    async def recording_close() -> None:
        closed.append(first)
        await close_first()

    monkeypatch.setattr(first, "aclose", recording_close)
    one = orquestra.create_smart_commander(manager=first)
    await first.ensure("brain")
    second: ModelManager = make_manager()
    two = orquestra.create_smart_commander(manager=second)
    for _ in range(5):  # the replaced manager closes in the background of this loop
        await asyncio.sleep(0)
    assert closed == [first]
    assert get_model_manager() is second and one.manager is second and two.manager is second
    state.script(BRAIN, "Olá!")
    assert await one.process_message("Olá") == "Olá!"
    assert one.get_status()["brain_model"] == second.model_for("brain")
    set_model_manager(None)


def test_the_commander_is_loaded_only_when_named() -> None:
    assert "create_smart_commander" in orquestra.__all__
    assert callable(orquestra.create_smart_commander)
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = orquestra.nothing_here  # type: ignore[attr-defined]
