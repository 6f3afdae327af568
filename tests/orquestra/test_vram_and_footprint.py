"""NVML probe degradation, budget resolution, footprint estimates and the ledger file."""

from __future__ import annotations

import logging
import sys
import types
from pathlib import Path

import pytest

from orquestra.ledger import FootprintLedger
from orquestra.policy.decision import GIB
from orquestra.policy.footprint import estimate_footprint, kv_cache_bytes
from orquestra.scheduler.sizing import read_budget
from orquestra.settings import load_settings
from orquestra.vram import NvmlProbe, VramReading
from tests.fakes.ollama import NoNvml


class _NVMLError(Exception):
    pass


def fake_pynvml(monkeypatch: pytest.MonkeyPatch, *, fail: bool) -> None:
    module = types.ModuleType("pynvml")

    def init() -> None:
        if fail:
            raise _NVMLError("Driver Not Loaded")

    module.nvmlInit = init  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByIndex = lambda i: f"gpu{i}"  # type: ignore[attr-defined]
    module.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(  # type: ignore[attr-defined]
        total=16 * GIB, used=3 * GIB, free=13 * GIB
    )
    module.nvmlDeviceGetName = lambda h: b"NVIDIA GeForce RTX 4080"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", module)


def test_nvml_probe_degrades_cleanly_without_a_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_pynvml(monkeypatch, fail=True)
    probe = NvmlProbe()
    assert probe.available is False
    assert probe.read() is None and probe.name() is None
    assert "Driver Not Loaded" in probe.reason


def test_nvml_probe_reads_total_and_used(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_pynvml(monkeypatch, fail=False)
    probe = NvmlProbe(gpu_index=0)
    assert probe.read() == VramReading(total=16 * GIB, used=3 * GIB)
    assert probe.read().free == 13 * GIB  # type: ignore[union-attr]
    assert probe.name() == "NVIDIA GeForce RTX 4080"


def test_real_nvml_on_this_machine_never_raises() -> None:
    probe = NvmlProbe()
    reading = probe.read()
    assert (reading is None) == (not probe.available)


def test_budget_defaults_to_the_gpu_total(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_pynvml(monkeypatch, fail=False)
    budget = read_budget(load_settings(), NvmlProbe())
    assert (budget.bytes, budget.source) == (16 * GIB, "NVML")


def test_budget_without_nvml_is_16_gib_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        budget = read_budget(load_settings(), NoNvml())
    assert budget.bytes == 16 * GIB and "no NVML" in budget.source
    assert "ORQUESTRA_VRAM_BUDGET_GB" in caplog.text


def test_explicit_budget_wins() -> None:
    assert read_budget(load_settings(vram_budget_gb=10), NoNvml()).bytes == 10 * GIB


QWEN14B_INFO = {
    "general.architecture": "qwen2",
    "qwen2.block_count": 48,
    "qwen2.attention.head_count": 40,
    "qwen2.attention.head_count_kv": 8,
    "qwen2.embedding_length": 5120,
}


def test_kv_cache_follows_layer_geometry() -> None:
    # 48 layers x 8 KV heads x (128 + 128) dims x 2 bytes per token.
    assert kv_cache_bytes(QWEN14B_INFO, 8192) == 48 * 8 * 256 * 2 * 8192
    assert kv_cache_bytes(QWEN14B_INFO, 16384) == 2 * kv_cache_bytes(QWEN14B_INFO, 8192)  # type: ignore[operator]
    assert kv_cache_bytes({}, 8192) is None


def test_estimate_is_weights_plus_kv_plus_graph() -> None:
    weights = int(8.4 * GIB)
    estimate = estimate_footprint(weights, QWEN14B_INFO, 8192)
    assert weights + 1.5 * GIB < estimate < weights + 2.5 * GIB
    assert estimate_footprint(weights, {}, 8192) > weights


async def test_ledger_survives_corruption_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "footprints.json"
    path.parent.mkdir()
    path.write_text("{not json")
    ledger = FootprintLedger(path)
    await ledger.aload()
    assert ledger.entries() == {}
    ledger.record("m:1b", {"num_ctx": 8192}, 100, 90)
    await ledger.asave()
    again = FootprintLedger(path)
    await again.aload()
    footprint = again.get("m:1b", {"num_ctx": 8192})
    assert footprint is not None and (footprint.size, footprint.size_vram) == (100, 90)
    assert again.get("m:1b", {"num_ctx": 4096}) is None
