"""Manager overhead per swap beyond the fake backend's own simulated load and unload times.

Runs N alternating swaps (brain <-> executor, 13 + 9 GiB on a 16 GiB card, so every
request is an unload + VRAM wait + load) against the fake Ollama server on loopback,
and subtracts what the fake itself spends (time to leave /api/ps, VRAM release lag,
load time). "caller-visible" is the wall time of `ensure()` minus that; a loopback
round trip to the fake costs about 1 ms, so a swap's HTTP floor is 3-4 ms. The "bare
client" column runs the same unload / poll / load protocol with the plain ollama client
and no manager, side by side in the same run: "caller - bare" is what the manager
itself adds. Target: its median <= 5 ms.

    python bench/swap_overhead.py [--swaps 100]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time

import ollama
from _common import median, percentile, table

from orquestra.backends.ollama import OllamaBackend
from orquestra.ledger import LEDGER_FILENAME, FootprintLedger
from orquestra.manager import ModelManager
from orquestra.settings import load_settings
from tests.fakes.ollama import FakeNvml, FakeOllama, FakeOllamaState, default_models

TARGET_MEDIAN_MS = 5.0
SCENARIOS = {
    # name: (load_s, unload_ps_s, vram_release_s)
    "fast fake (50 ms load, 30+30 ms unload)": (0.05, 0.03, 0.03),
    "anchors (0.5 s load, 0.5+0.5 s unload)": (0.5, 0.5, 0.5),
}


async def bare_swaps(url: str, state: FakeOllamaState, swaps: int) -> list[float]:
    """The same protocol with the plain ollama client and no manager: the floor."""
    client = ollama.AsyncClient(host=url)
    names = [m.name for m in default_models()]
    options = {"num_ctx": 8192, "num_gpu": 999}
    await client.generate(model=names[0], options=options, keep_alive=-1)
    times = []
    for i in range(swaps):
        old, new = names[i % 2], names[(i + 1) % 2]
        start = time.perf_counter()
        await client.generate(model=old, keep_alive=0)
        while any(m.model == old for m in (await client.ps()).models):
            await asyncio.sleep(0.001)
        while state.vram_total - state.vram_used() < 9 * 1024**3:
            await asyncio.sleep(0.001)
        await client.generate(model=new, options=options, keep_alive=-1)
        times.append(time.perf_counter() - start)
    return times


async def run(load_s: float, unload_ps_s: float, release_s: float, swaps: int) -> dict[str, float]:
    state = FakeOllamaState(
        default_models(), load_s=load_s, unload_ps_s=unload_ps_s, vram_release_s=release_s
    )
    server = FakeOllama(state).start()
    with tempfile.TemporaryDirectory() as cache:
        settings = load_settings(
            ollama_base_url=server.url, vram_budget_gb=16, home_role="none", cache_dir=cache
        )
        manager = ModelManager(
            settings,
            OllamaBackend(server.url),
            probe=FakeNvml(state),
            ledger=FootprintLedger(settings.cache_dir / LEDGER_FILENAME),
        )
        await manager.ensure("brain")  # first load from empty: not a swap
        waits = []
        loop = asyncio.get_running_loop()
        for i in range(swaps):
            start = loop.time()
            await manager.ensure("executor" if i % 2 == 0 else "brain")
            waits.append(loop.time() - start)
        events = manager.events[1:]
        await manager.aclose()
    server.stop()
    bare_state = FakeOllamaState(
        default_models(), load_s=load_s, unload_ps_s=unload_ps_s, vram_release_s=release_s
    )
    bare_server = FakeOllama(bare_state).start()
    bare = await bare_swaps(bare_server.url, bare_state, swaps)
    bare_server.stop()
    simulated = unload_ps_s + release_s + load_s
    overhead = [(e.total_s - simulated) * 1000 for e in events]
    wait_over = [(e.unload_s + e.vram_wait_s - unload_ps_s - release_s) * 1000 for e in events]
    load_over = [(e.load_s - load_s) * 1000 for e in events]
    return {
        "swaps": len(events),
        "median_total_ms": median([e.total_s * 1000 for e in events]),
        "simulated_ms": simulated * 1000,
        "median_ms": median(overhead),
        "p90_ms": percentile(overhead, 0.9),
        "max_ms": max(overhead),
        "unload_wait_ms": median(wait_over),
        "load_ms": median(load_over),
        "caller_ms": median([(w - simulated) * 1000 for w in waits]),
        "bare_ms": median([(b - simulated) * 1000 for b in bare]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swaps", type=int, default=100)
    parser.add_argument(
        "--anchor-swaps",
        type=int,
        default=10,
        help="swaps for the slow, anchors-calibrated scenario",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    for name, (load_s, unload_s, release_s) in SCENARIOS.items():
        swaps = args.swaps if load_s < 0.1 else args.anchor_swaps
        r = asyncio.run(run(load_s, unload_s, release_s, swaps))
        verdict = "ok" if r["caller_ms"] - r["bare_ms"] <= TARGET_MEDIAN_MS else "over"
        rows.append(
            [
                name,
                r["swaps"],
                f"{r['median_total_ms']:.1f}",
                f"{r['simulated_ms']:.0f}",
                f"{r['median_ms']:.2f}",
                f"{r['p90_ms']:.2f}",
                f"{r['max_ms']:.2f}",
                f"{r['unload_wait_ms']:.2f}",
                f"{r['load_ms']:.2f}",
                f"{r['caller_ms']:.2f}",
                f"{r['bare_ms']:.2f}",
                f"{r['caller_ms'] - r['bare_ms']:.2f}",
                f"{verdict} (<= {TARGET_MEDIAN_MS:.0f})",
            ]
        )
    print(
        table(
            [
                "scenario",
                "swaps",
                "swap ms (median)",
                "simulated ms",
                "overhead median",
                "overhead p90",
                "overhead max",
                "of which unload+wait",
                "of which load",
                "caller-visible overhead",
                "bare client overhead",
                "caller - bare",
                "target",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
