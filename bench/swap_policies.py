"""Swap policies on one mixed workload: naive alternation, Ollama's own eviction, Orquestra.

30 tasks (planning, code, and hybrid with 1-5 code steps; fixed seed) make the same model
calls under each policy, against the fake Ollama server on loopback, calibrated to
shared/docs/anchors.md for a 16 GiB card with a 13 GiB brain and a 9 GiB executor:

- load from the page cache: brain 0.7 s, executor 0.5 s; from NVMe: 1.9 s and 1.3 s;
- unload: the model leaves /api/ps after 0.3 s and its VRAM is free 0.7 s later;
- generation (same for every policy): brain call 1.5 s, executor call 1.0 s;
- the host's page cache holds one model's weights: loading one evicts the other's, so a
  load is from disk unless the weights were read beforehand. A prefetch counts as done
  only once the time to read the file from NVMe has passed; a load that starts earlier
  pays the remainder.

Policies: (a) the founding design's naive alternation (unload the other model before every
call, poll until it is gone, and reload the brain after every executor call); (b) leave it
to Ollama (just call the models; the server evicts idle models and re-checks VRAM every
250 ms, as its scheduler does); (c) Orquestra (ModelManager with NVML-style convergence,
batching, and graph-aware prefetch at the points the graph prefetches: the executor when a
task will need it, the brain when a hybrid task starts executing). Times run scaled by
TIME_SCALE; the table reports simulated seconds. Targets: (c) <= 0.6 x (a), <= 0.8 x (b).

    python bench/swap_policies.py [--tasks 30] [--plot docs/swap_policies.png]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ollama
from _common import ROOT, table

from orquestra.backends.ollama import OllamaBackend
from orquestra.ledger import LEDGER_FILENAME, FootprintLedger
from orquestra.manager import ModelManager
from orquestra.prefetch import cached_fraction, evict, warm
from orquestra.settings import load_settings
from tests.fake_ollama import FakeNvml, FakeOllama, FakeOllamaState, default_models

TIME_SCALE = 0.25
BRAIN, EXECUTOR = "qwen2.5-32b-instruct-moe-rtx:latest", "qwen2.5-coder:14b"
CACHED_LOAD_S = {BRAIN: 0.7, EXECUTOR: 0.5}
DISK_LOAD_S = {BRAIN: 1.9, EXECUTOR: 1.3}
GEN_S = {BRAIN: 1.5, EXECUTOR: 1.0}
UNLOAD_PS_S, VRAM_RELEASE_S = 0.3, 0.7
OPTIONS = {"num_ctx": 8192, "num_gpu": 999}
BLOB_BYTES = 32 * 1024 * 1024
TARGETS = {"naive alternation": 0.6, "Ollama eviction": 0.8}


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
    return FakeOllama(state).start(), state, cache


async def chat(client: ollama.AsyncClient, model: str) -> None:
    await client.chat(
        model=model, messages=[{"role": "user", "content": "step"}], options=OPTIONS, keep_alive=-1
    )


async def naive(tasks: list[tuple[str, list[str]]], url: str) -> None:
    client = ollama.AsyncClient(host=url)

    async def swap_to(model: str) -> None:
        other = EXECUTOR if model == BRAIN else BRAIN
        await client.generate(model=other, keep_alive=0)
        while any(m.model == other for m in (await client.ps()).models):
            await asyncio.sleep(0.1 * TIME_SCALE)
        await client.generate(model=model, options=OPTIONS, keep_alive=-1)

    for _, calls in tasks:
        for model in calls:
            await swap_to(model)
            await chat(client, model)
            if model == EXECUTOR:
                await swap_to(BRAIN)  # the founding design reloads the brain every time


async def ollama_evicts(tasks: list[tuple[str, list[str]]], url: str) -> None:
    client = ollama.AsyncClient(host=url)
    for _, calls in tasks:
        for model in calls:
            await chat(client, model)


async def orquestra(
    tasks: list[tuple[str, list[str]]],
    url: str,
    state: FakeOllamaState,
    cache: PageCache,
    cache_dir: str,
) -> None:
    settings = load_settings(
        ollama_base_url=url, vram_budget_gb=16, cache_dir=cache_dir, home_role="none"
    )
    manager = ModelManager(
        settings,
        OllamaBackend(url),
        probe=FakeNvml(state),
        ledger=FootprintLedger(settings.cache_dir / LEDGER_FILENAME),
    )

    async def prefetch(role: str, model: str) -> None:
        if model not in state.runners:
            cache.prefetch_started.setdefault(model, time.monotonic())
        await manager.prefetch(role)

    for kind, calls in tasks:
        if EXECUTOR in calls:
            await prefetch("executor", EXECUTOR)  # the route node, for code and hybrid
        for i, model in enumerate(calls):
            role = "brain" if model == BRAIN else "executor"
            if kind == "hybrid" and model == EXECUTOR and calls[i - 1] == BRAIN:
                await manager.ensure("executor")
                await prefetch("brain", BRAIN)  # the execute node, before its code steps
            async with manager.use(role) as chat_model:
                await chat_model.ainvoke("step")
    await manager.aclose()


def run_policy(name: str, tasks: list[tuple[str, list[str]]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server, state, cache = fake(Path(tmp), ollama_mode=name == "Ollama eviction")
        start = time.perf_counter()
        if name == "naive alternation":
            asyncio.run(naive(tasks, server.url))
        elif name == "Ollama eviction":
            asyncio.run(ollama_evicts(tasks, server.url))
        else:
            asyncio.run(orquestra(tasks, server.url, state, cache, tmp))
        wall = (time.perf_counter() - start) / TIME_SCALE
        server.stop()
    generation = sum(GEN_S[m] for _, calls in tasks for m in calls)
    starts = [e for e in state.timeline if e.event == "load_start"]
    return {
        "wall": wall,
        "loads": len(starts),
        "swap_s": wall - generation,
        "timeline": [(e.t / TIME_SCALE, e.event, e.model) for e in state.timeline],
    }


def plot(results: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (bars, line) = plt.subplots(2, 1, figsize=(10, 7))
    names = list(results)
    swap = [results[n]["swap_s"] for n in names]
    gen = [results[n]["wall"] - results[n]["swap_s"] for n in names]
    bars.barh(names, gen, label="generation (same for all)", color="#9bb")
    bars.barh(names, swap, left=gen, label="swapping (load, unload, waits)", color="#d66")
    bars.set_xlabel("simulated seconds for the 30-task workload")
    bars.legend(loc="lower right")
    bars.set_title("Swap policies, one workload (fake Ollama calibrated to anchors.md)")
    colours = {BRAIN: "#36c", EXECUTOR: "#e83"}
    for row, name in enumerate(names):
        spans: dict[str, float] = {}
        for t, event, model in results[name]["timeline"]:
            if event == "load_start":
                spans[model] = t
            elif event in ("vram_freed", "reload_freed") and model in spans:
                line.plot(
                    [spans.pop(model), t],
                    [row, row],
                    lw=8,
                    color=colours[model],
                    solid_capstyle="butt",
                )
        for model, t in spans.items():
            line.plot(
                [t, results[name]["wall"]],
                [row, row],
                lw=8,
                color=colours[model],
                solid_capstyle="butt",
            )
    line.set_yticks(range(len(names)), names)
    line.set_xlabel("simulated seconds (blue: brain resident, orange: executor resident)")
    line.set_title("VRAM residency timeline")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--plot", type=Path, default=None, help="write a PNG there")
    args = parser.parse_args()
    tasks = workload(args.tasks)
    results = {
        name: run_policy(name, tasks)
        for name in ("naive alternation", "Ollama eviction", "Orquestra")
    }
    ours = results["Orquestra"]["wall"]
    rows = []
    for name, r in results.items():
        ratio = ours / r["wall"]
        target = TARGETS.get(name)
        verdict = (
            "" if target is None else (("ok" if ratio <= target else "MISS") + f" (<= {target})")
        )
        rows.append(
            [
                name,
                f"{r['wall']:.1f}",
                r["loads"],
                f"{r['swap_s']:.1f}",
                f"{ratio:.2f}" if name != "Orquestra" else "1.00",
                verdict,
            ]
        )
    kinds = {k: sum(1 for kind, _ in tasks if kind == k) for k in ("planning", "code", "hybrid")}
    print(f"{len(tasks)} tasks ({kinds}); simulated seconds (ran at x{TIME_SCALE})\n")
    print(table(["policy", "wall s", "loads", "swap s", "Orquestra / policy", "target"], rows))
    if args.plot:
        plot(results, args.plot if args.plot.is_absolute() else ROOT / args.plot)
        print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
