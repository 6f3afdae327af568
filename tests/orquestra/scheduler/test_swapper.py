"""The swapper carries out each action of a plan as written, in order, and nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel

from orquestra.backends.base import Capabilities, LoadedModel, ModelFacts
from orquestra.errors import ModelTooLargeError
from orquestra.ledger import FootprintLedger
from orquestra.lineup import ModelSpec
from orquestra.policy.decision import GIB, Load, SwapPlan, Unload, WaitForVram
from orquestra.scheduler.swapper import Swapper
from orquestra.settings import load_settings
from orquestra.vram import VramReading


class NoCard:
    available = False
    reason = "no driver (test)"

    def read(self) -> VramReading | None:
        return None


class RecordingBackend:
    """A backend that only records the calls made to it and holds what it is told to."""

    name = "recording"
    capabilities = Capabilities(reusable_chat_models=True, suspension=False)
    url = ""

    def __init__(self, held: Mapping[str, int], *, partial: bool = False) -> None:
        self.held = dict(held)
        self.calls: list[tuple[str, str]] = []
        self.partial = partial

    def canonical(self, model: str) -> str:
        return model

    def suspended(self) -> list[str]:
        return []

    async def load(self, model: str, options: Mapping[str, Any], keep_alive: float | str) -> float:
        self.calls.append(("load", model))
        self.held[model] = 4 * GIB
        return 0.0

    async def unload(self, model: str) -> None:
        self.calls.append(("unload", model))
        self.held.pop(model, None)

    async def wait_unloaded(self, model: str, timeout_s: float) -> None:
        self.calls.append(("wait_unloaded", model))

    async def loaded(self) -> list[LoadedModel]:
        vram = (lambda size: size // 2) if self.partial else (lambda size: size)
        return [LoadedModel(m, size, vram(size)) for m, size in self.held.items()]

    async def weights_path(self, model: str) -> Path | None:
        return None

    async def facts(self, model: str) -> ModelFacts:
        return ModelFacts(model, 4 * GIB)

    async def available(self) -> dict[str, int]:
        return {}

    def chat_model(
        self, model: str, options: Mapping[str, Any], keep_alive: float | str
    ) -> BaseChatModel:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


def swapper(backend: RecordingBackend, tmp_path: Path) -> Swapper:
    settings = load_settings(cache_dir=tmp_path, vram_settle_timeout_s=0.1)
    return Swapper(settings, backend, NoCard(), FootprintLedger(tmp_path / "ledger.json"))


CODER = ModelSpec("coder", {"num_ctx": 8192, "num_gpu": 999}, -1.0)


async def test_each_action_is_carried_out_in_the_plan_s_order(tmp_path: Path) -> None:
    backend = RecordingBackend({"brain": 8 * GIB, "other": 2 * GIB})
    plan = SwapPlan(
        (
            Unload("other", reason="someone else's model"),
            Unload("brain", reason="make room"),
            WaitForVram(("other", "brain"), free_bytes=4 * GIB),
            Load("coder", "executor"),
        )
    )
    resident = {m: LoadedModel(m, s, s) for m, s in backend.held.items()}
    event, after = await swapper(backend, tmp_path).run(
        plan,
        spec=CODER,
        resident=resident,
        role_of={"brain": "brain", "coder": "executor"}.get,
        leased=frozenset(),
        estimated=4 * GIB,
        reason="request",
    )
    assert backend.calls == [
        ("unload", "other"),
        ("unload", "brain"),
        ("wait_unloaded", "other"),
        ("wait_unloaded", "brain"),
        ("load", "coder"),
    ]
    assert event.from_models == ("other", "brain") and event.from_role == "brain"
    assert event.to_model == "coder" and event.to_role == "executor"
    assert set(after) == {"coder"}


async def test_a_plan_without_unloads_touches_nothing_else(tmp_path: Path) -> None:
    backend = RecordingBackend({"brain": 8 * GIB})
    event, after = await swapper(backend, tmp_path).run(
        SwapPlan((Load("coder", "executor"),)),
        spec=CODER,
        resident={"brain": LoadedModel("brain", 8 * GIB, 8 * GIB)},
        role_of={"brain": "brain", "coder": "executor"}.get,
        leased=frozenset({"brain"}),
        estimated=4 * GIB,
        reason="request",
    )
    assert backend.calls == [("load", "coder")]
    assert event.from_models == () and set(after) == {"brain", "coder"}


async def test_a_model_loaded_partly_on_the_gpu_is_unloaded_and_refused(tmp_path: Path) -> None:
    backend = RecordingBackend({}, partial=True)
    with pytest.raises(ModelTooLargeError, match="ALLOW_PARTIAL_OFFLOAD"):
        await swapper(backend, tmp_path).run(
            SwapPlan((Load("coder", "executor"),)),
            spec=CODER,
            resident={},
            role_of={"brain": "brain", "coder": "executor"}.get,
            leased=frozenset(),
            estimated=4 * GIB,
            reason="request",
        )
    assert backend.calls == [("load", "coder"), ("unload", "coder")]
