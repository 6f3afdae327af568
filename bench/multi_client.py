"""Many client processes on one GPU: each with its own manager, or all through `orquestra serve`.

1. N client OS processes (1, 2, 4, 8), each making R requests that alternate brain and
   executor (`async with manager.use(role) as chat: await chat.ainvoke("oi")`; even-numbered
   clients start with the brain, odd ones with the executor), against the strict fake
   Ollama (16 GiB card, 13 GiB brain, 9 GiB executor: both never fit; a load that does not
   fit answers 500 out of memory). Two modes:
   - "direct": every process its own in-process ModelManager (ORQUESTRA_URL=none), all
     talking straight to the fake, none knowing what the others hold;
   - "serve": every process a RemoteManager of one `python -m orquestra.server`
     (ORQUESTRA_URL=its URL), whose single ModelManager leases the models for all of them.
   Each cell runs on a fresh fake (and a fresh serve), so counters don't carry over. loads
   and reloads are the fake's counts; OOM the loads it refused for lack of VRAM; failed the
   requests that raised in a client; wall from the first request to the last; p50/p99 the
   latency of the successful requests (lease + chat, as each client timed them).
2. The scheduler's overhead per request: one client, the executor already resident, N
   sequential `ollama.Client.chat` calls with no generation time, straight to the fake vs
   through serve; then the same with Orquestra's own client (`manager.use("executor")` +
   `chat.ainvoke`: an in-process ModelManager vs a RemoteManager of serve, which takes a
   lease per use). Target: serve adds <= 2 ms at the median.

    python bench/multi_client.py [--rounds 8] [--clients 1,2,4,8] [--overhead-requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import ollama
from _common import median, percentile, table
from multi_client_support import (
    EXECUTOR,
    base_env,
    fresh_fake,
    run_clients,
    serve,
    status,
)

from orquestra.runtime import build_model_service
from orquestra.service import ModelService
from orquestra.settings import load_settings

MODES = ("direct", "serve")
# Generation time per request on the fake, and its load time (large enough to see swaps).
GEN_S = 0.05
LOAD_S = 0.2
OVERHEAD_TARGET_MS = 2.0
OVERHEAD_WARMUP = 10
OPTIONS = {"num_ctx": 8192}


def run_cell(n: int, mode: str, rounds: int) -> dict[str, Any]:
    """One (N, mode) cell on a fresh fake (and, for serve, a fresh scheduler)."""
    with tempfile.TemporaryDirectory(prefix="orq-multi-") as tmp:
        workdir = Path(tmp)
        fake, state = fresh_fake(GEN_S, LOAD_S)
        env = base_env(fake.url, workdir)
        swaps = None
        try:
            if mode == "direct":
                results = run_clients(n, rounds, env, workdir)
            else:
                with serve(env, workdir) as url:
                    results = run_clients(n, rounds, env | {"ORQUESTRA_URL": url}, workdir)
                    swaps = status(url).get("swaps")
        finally:
            fake.stop()
        latencies = [x for r in results for x in r["latencies"]]
        errors = [e for r in results for e in r["errors"]]
        firsts = [r["first"] for r in results if r["first"] is not None]
        lasts = [r["last"] for r in results if r["last"] is not None]
        return {
            "requests": n * rounds,
            "loads": sum(state.loads.values()),
            "reloads": sum(state.reloads.values()),
            "oom": sum(1 for e in state.timeline if e.event == "oom"),
            "max_vram_gib": state.max_vram_used() / 1024**3,
            "failed": len(errors),
            "errors": errors,
            "wall": (max(lasts) - min(firsts)) if firsts and lasts else float("nan"),
            "p50": percentile(latencies, 0.5),
            "p99": percentile(latencies, 0.99),
            "swaps": swaps,
        }


def timed_chats(host: str, count: int) -> list[float]:
    """Seconds per `ollama.Client.chat` of the executor, after a warm-up that loads it."""
    client = ollama.Client(host=host)
    messages = [{"role": "user", "content": "oi"}]
    times = []
    for i in range(OVERHEAD_WARMUP + count):
        start = time.perf_counter()
        client.chat(model=EXECUTOR, messages=messages, options=OPTIONS)
        if i >= OVERHEAD_WARMUP:
            times.append(time.perf_counter() - start)
    return times


async def _timed_uses(manager: ModelService, count: int) -> list[float]:
    times = []
    for i in range(OVERHEAD_WARMUP + count):
        start = time.perf_counter()
        async with manager.use("executor") as chat:
            await chat.ainvoke("oi")
        if i >= OVERHEAD_WARMUP:
            times.append(time.perf_counter() - start)
    await manager.aclose()
    return times


def timed_uses(url: str, fake_url: str, cache_dir: Path, count: int) -> list[float]:
    """Seconds per `manager.use("executor")` + `chat.ainvoke`: in-process or RemoteManager."""
    settings = load_settings(
        ollama_base_url=fake_url,
        backend="ollama",
        vram_budget_gb=16,
        home_role="none",
        cache_dir=cache_dir,
        orquestra_url=url,
    )
    manager: ModelService = build_model_service(settings)
    return asyncio.run(_timed_uses(manager, count))


def run_overhead(count: int) -> dict[tuple[str, str], Any]:
    """Median per-request time straight to the fake and through serve (gen_s = 0)."""
    out: dict[tuple[str, str], Any] = {}
    for client, mode in [(c, m) for c in ("ollama.Client", "manager.use") for m in MODES]:
        with tempfile.TemporaryDirectory(prefix="orq-overhead-") as tmp:
            fake, state = fresh_fake(0.0, LOAD_S)
            try:
                if mode == "direct" and client == "ollama.Client":
                    times = timed_chats(fake.url, count)
                elif mode == "direct":
                    times = timed_uses("none", fake.url, Path(tmp), count)
                else:
                    with serve(base_env(fake.url, Path(tmp)), Path(tmp)) as url:
                        if client == "ollama.Client":
                            times = timed_chats(url, count)
                        else:
                            times = timed_uses(url, fake.url, Path(tmp), count)
            finally:
                fake.stop()
            out[(client, mode)] = {
                "median_ms": median(times) * 1000,
                "p99_ms": percentile(times, 0.99) * 1000,
                "loads": sum(state.loads.values()),
                "reloads": sum(state.reloads.values()),
            }
    return out


def cell_row(n: int, mode: str, r: dict[str, Any]) -> list[object]:
    return [
        n,
        "orquestra serve" if mode == "serve" else "direct",
        r["requests"],
        r["loads"],
        r["reloads"],
        r["oom"],
        r["failed"],
        f"{r['max_vram_gib']:.1f}",
        f"{r['wall']:.2f}",
        f"{r['p50'] * 1000:.0f}",
        f"{r['p99'] * 1000:.0f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8, help="requests per client process")
    parser.add_argument("--clients", default="1,2,4,8", help="client process counts")
    parser.add_argument("--overhead-requests", type=int, default=200)
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",") if c.strip()]
    print(
        f"multi_client: {counts} client processes x {args.rounds} requests (brain/executor "
        f"alternating, odd clients starting with the executor), direct vs orquestra serve, "
        f"strict fake Ollama (16 GiB card, 13 GiB brain, 9 GiB executor, load {LOAD_S} s, "
        f"generation {GEN_S} s); then "
        f"{args.overhead_requests} sequential executor chats with no generation time, "
        f"direct vs through serve, with ollama.Client and with manager.use\n"
    )
    started = time.perf_counter()
    cells = {(n, mode): run_cell(n, mode, args.rounds) for n in counts for mode in MODES}
    headers = ["clients", "mode", "requests", "loads", "reloads", "OOM 500s", "failed"]
    headers += ["max VRAM GiB", "wall s", "p50 ms", "p99 ms"]
    print(table(headers, [cell_row(n, mode, r) for (n, mode), r in cells.items()]))
    for (n, mode), r in cells.items():
        if r["errors"]:
            kinds = sorted({e.split(":")[0] for e in r["errors"]})
            print(f"  {n} x {mode}: {r['failed']} failed ({', '.join(kinds)}); first:")
            print(f"    {r['errors'][0][:240]}")
        if r["swaps"] is not None and r["swaps"] != r["loads"]:
            print(f"  {n} x serve: serve counted {r['swaps']} swaps, the fake {r['loads']} loads")
    overhead = run_overhead(args.overhead_requests)
    rows: list[list[object]] = [
        [
            client,
            "straight to the fake" if mode == "direct" else "through orquestra serve",
            f"{o['median_ms']:.2f}",
            f"{o['p99_ms']:.2f}",
            o["loads"],
            o["reloads"],
        ]
        for (client, mode), o in overhead.items()
    ]
    print(f"\nScheduler overhead: {args.overhead_requests} sequential chats, executor resident")
    print("(manager.use: direct = in-process ModelManager, serve = RemoteManager)\n")
    print(table(["client", "path", "median ms", "p99 ms", "loads", "reloads"], rows))
    print()
    # Through serve, `manager.use` + one chat is two HTTP requests (the lease and the call).
    for client, requests in (("ollama.Client", 1), ("manager.use", 2)):
        diff = overhead[(client, "serve")]["median_ms"] - overhead[(client, "direct")]["median_ms"]
        verdict = "ok" if diff / requests <= OVERHEAD_TARGET_MS else "MISS"
        print(
            f"{client}: serve adds {diff:.2f} ms at the median over {requests} HTTP "
            f"request(s), {diff / requests:.2f} ms per request "
            f"(target <= {OVERHEAD_TARGET_MS:g} ms): {verdict}"
        )
    print(f"\ntotal bench time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
