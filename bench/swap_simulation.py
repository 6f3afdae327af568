"""The simulated machine `bench/swap_policies.py` runs each policy on.

A fake Ollama server on loopback calibrated to shared/docs/anchors.md (a 16 GiB card, a
13 GiB brain, a 9 GiB executor), the host's page cache holding one model's weights (real
files, real reads), and the mixed workload of planning, code and hybrid tasks. Times run
scaled by TIME_SCALE.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import _common  # noqa: F401  (puts the repository on sys.path)

from orquestra.prefetch import WarmResult, cached_fraction, evict, warm
from tests.fakes.ollama import FakeOllama, FakeOllamaState, default_models

TIME_SCALE = 0.25
BRAIN, EXECUTOR = "qwen2.5-32b-instruct-moe-rtx:latest", "qwen2.5-coder:14b"
CACHED_LOAD_S = {BRAIN: 0.7, EXECUTOR: 0.5}
DISK_LOAD_S = {BRAIN: 1.9, EXECUTOR: 1.3}
GEN_S = {BRAIN: 1.5, EXECUTOR: 1.0}
UNLOAD_PS_S, VRAM_RELEASE_S = 0.3, 0.7
BLOB_BYTES = 32 * 1024 * 1024


def workload(n: int, seed: int = 7) -> list[tuple[str, list[str]]]:
    """(kind, model calls) per task."""
    rng = random.Random(seed)
    tasks: list[tuple[str, list[str]]] = []
    for i in range(n):
        kind = ("planning", "code", "hybrid", "hybrid")[i % 4] if i < n else "hybrid"
        if kind == "planning":
            calls = [BRAIN]
        elif kind == "code":
            calls = [EXECUTOR] * rng.choice((1, 1, 2))  # sometimes a debugging attempt
        else:
            calls = [BRAIN] + [EXECUTOR] * rng.randint(1, 5) + [BRAIN]
        tasks.append((kind, calls))
    rng.shuffle(tasks)
    return tasks


@dataclass
class PageCache:
    """Which model's weights the host holds in RAM, with real files and real reads."""

    blobs: dict[str, Path]
    prefetch_started: dict[str, float] = field(default_factory=dict)

    def load_time(self, model: str) -> float:
        cached = (cached_fraction(self.blobs[model]) or 0.0) >= 0.9
        if not cached:
            return DISK_LOAD_S[model] * TIME_SCALE
        started = self.prefetch_started.pop(model, None)
        remaining = 0.0
        if started is not None:  # a prefetch reads at NVMe speed; unfinished part waits
            remaining = max(DISK_LOAD_S[model] * TIME_SCALE - (time.monotonic() - started), 0)
        return CACHED_LOAD_S[model] * TIME_SCALE + remaining

    def timed_warm(self, path: Path, *, reserve_bytes: int) -> WarmResult:
        """The manager's prefetch read, noting when it started for a file not yet cached."""
        model = next(m for m, p in self.blobs.items() if p == path)
        if (cached_fraction(path) or 0.0) < 0.9:
            self.prefetch_started.setdefault(model, time.monotonic())
        return warm(path, reserve_bytes=reserve_bytes)

    def after_load(self, model: str) -> None:
        warm(self.blobs[model], reserve_bytes=0)
        for other, path in self.blobs.items():
            if other != model:
                evict(path)


def fake(tmp: Path, *, ollama_mode: bool) -> tuple[FakeOllama, FakeOllamaState, PageCache]:
    models = default_models()
    blobs = {}
    for spec in models:
        path = tmp / f"{spec.name.replace(':', '_')}.bin"
        path.write_bytes(b"\0" * BLOB_BYTES)
        spec.blob = str(path)
        blobs[spec.name] = path
    state = FakeOllamaState(
        models, unload_ps_s=UNLOAD_PS_S * TIME_SCALE, vram_release_s=VRAM_RELEASE_S * TIME_SCALE
    )
    cache = PageCache(blobs)
    for path in blobs.values():
        evict(path)
    state.load_time, state.after_load = cache.load_time, cache.after_load
    state.gen_s = {m: s * TIME_SCALE for m, s in GEN_S.items()}
    state.auto_evict = ollama_mode
    state.sched_poll_s = 0.25 * TIME_SCALE if ollama_mode else 0.0
    state.fifo, state.num_parallel = True, 1  # Ollama's queue and slots, for every policy
    return FakeOllama(state).start(), state, cache
