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

Two workloads with the same tasks: one at a time (one user, each task started when the
last one answered) and a batch (graph.abatch(tasks, config={"max_concurrency": 4}), or four
Studio threads). The server behaves as Ollama does for every policy: one request at a time
per model (OLLAMA_NUM_PARALLEL=1) and a first-come first-served scheduler queue (§11).

Policies: (a) the founding design's naive alternation (unload the other model before every
call, poll until it is gone, and reload the brain after every executor call; one call at a
time, or its swaps would race); (b) leave it to Ollama (just call the models; the server
evicts idle models, waits for busy ones, and re-checks VRAM every 250 ms, as its scheduler
does); (c) Orquestra (ModelManager with NVML-style convergence, same-model batching, the
graph-aware prefetch at the points the graph prefetches: the executor when a task will need
it, the brain when a hybrid task starts executing, and after every swap the standby
prefetch of the model that went out). Times run scaled by TIME_SCALE; the table reports
simulated seconds. "swap s" is wall time minus generation. Targets: (c) <= 0.6 x (a) and
<= 0.8 x (b).

    python bench/swap_policies.py [--tasks 30] [--batch 4] [--plot docs/swap_policies.png]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import ollama
from _common import ROOT, table
from swap_simulation import (
    BRAIN,
    EXECUTOR,
    GEN_S,
    TIME_SCALE,
    PageCache,
    fake,
    workload,
)

from orquestra.backends.ollama import OllamaBackend
from orquestra.ledger import LEDGER_FILENAME, FootprintLedger
from orquestra.manager import ModelManager
from orquestra.scheduler import prefetcher as prefetcher_module
from orquestra.settings import load_settings
from tests.fakes.ollama import FakeNvml, FakeOllamaState

OPTIONS = {"num_ctx": 8192, "num_gpu": 999}
TARGETS = {"naive alternation": 0.6, "Ollama eviction": 0.8}
POLICIES = ("naive alternation", "Ollama eviction", "Orquestra")
# Tasks in flight at once in the batch workload (graph.abatch's max_concurrency).
BATCH = 4


async def chat(client: ollama.AsyncClient, model: str) -> None:
    await client.chat(
        model=model, messages=[{"role": "user", "content": "step"}], options=OPTIONS, keep_alive=-1
    )


Task = tuple[str, list[str]]


async def in_batches(tasks: list[Task], concurrency: int, run: Any) -> None:
    """Run every task, at most `concurrency` at a time (as graph.abatch does)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(task: Task) -> None:
        async with gate:
            await run(task)

    await asyncio.gather(*(one(task) for task in tasks))


async def naive(tasks: list[Task], url: str, concurrency: int) -> None:
    client = ollama.AsyncClient(host=url)
    one_call_at_a_time = asyncio.Lock()  # its swaps would race otherwise

    async def swap_to(model: str) -> None:
        other = EXECUTOR if model == BRAIN else BRAIN
        await client.generate(model=other, keep_alive=0)
        while any(m.model == other for m in (await client.ps()).models):
            await asyncio.sleep(0.1 * TIME_SCALE)
        await client.generate(model=model, options=OPTIONS, keep_alive=-1)

    async def run(task: Task) -> None:
        for model in task[1]:
            async with one_call_at_a_time:
                await swap_to(model)
                await chat(client, model)
                if model == EXECUTOR:
                    await swap_to(BRAIN)  # the founding design reloads the brain every time

    await in_batches(tasks, concurrency, run)


async def ollama_evicts(tasks: list[Task], url: str, concurrency: int) -> None:
    client = ollama.AsyncClient(host=url)

    async def run(task: Task) -> None:
        for model in task[1]:
            await chat(client, model)

    await in_batches(tasks, concurrency, run)


async def orquestra(
    tasks: list[Task],
    url: str,
    state: FakeOllamaState,
    cache: PageCache,
    cache_dir: str,
    concurrency: int,
) -> None:
    prefetcher_module.warm = cache.timed_warm  # every prefetch the manager starts is timed
    settings = load_settings(
        ollama_base_url=url, vram_budget_gb=16, cache_dir=cache_dir, home_role="none"
    )
    manager = ModelManager(
        settings,
        OllamaBackend(url),
        probe=FakeNvml(state),
        ledger=FootprintLedger(settings.cache_dir / LEDGER_FILENAME),
    )

    async def run(task: Task) -> None:
        kind, calls = task
        if EXECUTOR in calls:
            await manager.prefetch("executor")  # the route node, for code and hybrid
        for i, model in enumerate(calls):
            role = "brain" if model == BRAIN else "executor"
            if kind == "hybrid" and model == EXECUTOR and calls[i - 1] == BRAIN:
                await manager.ensure("executor")
                await manager.prefetch("brain")  # the execute node, before its code steps
            async with manager.use(role) as chat_model:
                await chat_model.ainvoke("step")

    await in_batches(tasks, concurrency, run)
    await manager.aclose()


def run_policy(name: str, tasks: list[Task], concurrency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server, state, cache = fake(Path(tmp), ollama_mode=name == "Ollama eviction")
        start = time.perf_counter()
        if name == "naive alternation":
            asyncio.run(naive(tasks, server.url, concurrency))
        elif name == "Ollama eviction":
            asyncio.run(ollama_evicts(tasks, server.url, concurrency))
        else:
            asyncio.run(orquestra(tasks, server.url, state, cache, tmp, concurrency))
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


def plot(results: dict[tuple[str, str], dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (bars, line) = plt.subplots(2, 1, figsize=(11, 8))
    names = [f"{policy}\n({mix})" for mix, policy in results]
    runs = list(results.values())
    gen = [r["wall"] - r["swap_s"] for r in runs]
    bars.barh(names, gen, label="generation (same for all)", color="#9bb")
    bars.barh(
        names, [r["swap_s"] for r in runs], left=gen, label="swapping and waiting", color="#d66"
    )
    for row, r in enumerate(runs):
        bars.text(r["wall"] + 2, row, f"{r['wall']:.0f} s, {r['loads']} loads", va="center")
    bars.set_xlabel("simulated seconds for the 30-task workload")
    bars.legend(loc="lower right")
    bars.set_xlim(0, max(r["wall"] for r in runs) * 1.25)
    bars.invert_yaxis()
    bars.set_title("Swap policies (fake Ollama calibrated to anchors.md)")
    colours = {BRAIN: "#36c", EXECUTOR: "#e83"}
    for row, r in enumerate(runs):
        spans: dict[str, float] = {}
        for t, event, model in r["timeline"]:
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
            line.plot([t, r["wall"]], [row, row], lw=8, color=colours[model], solid_capstyle="butt")
    line.set_yticks(range(len(names)), names)
    line.invert_yaxis()
    line.set_xlabel("simulated seconds (blue: brain resident, orange: executor resident)")
    line.set_title("VRAM residency timeline")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--batch", type=int, default=BATCH, help="tasks at a time in the batch")
    parser.add_argument("--plot", type=Path, default=None, help="write a PNG there")
    args = parser.parse_args()
    tasks = workload(args.tasks)
    workloads = {"one at a time": 1, f"batch of {args.batch}": args.batch}
    results = {
        (mix, policy): run_policy(policy, tasks, concurrency)
        for mix, concurrency in workloads.items()
        for policy in POLICIES
    }
    rows = []
    for (mix, policy), r in results.items():
        ratio = results[(mix, "Orquestra")]["wall"] / r["wall"]
        target = TARGETS.get(policy)
        verdict = (
            "" if target is None else (("ok" if ratio <= target else "MISS") + f" (<= {target})")
        )
        rows.append(
            [
                mix,
                policy,
                f"{r['wall']:.1f}",
                r["loads"],
                f"{r['swap_s']:.1f}",
                f"{ratio:.2f}" if policy != "Orquestra" else "1.00",
                verdict,
            ]
        )
    kinds = {k: sum(1 for kind, _ in tasks if kind == k) for k in ("planning", "code", "hybrid")}
    print(f"{len(tasks)} tasks ({kinds}); simulated seconds (ran at x{TIME_SCALE})\n")
    headers = ["workload", "policy", "wall s", "loads", "swap s", "Orquestra / policy", "target"]
    print(table(headers, rows))
    if args.plot:
        plot(results, args.plot if args.plot.is_absolute() else ROOT / args.plot)
        print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
