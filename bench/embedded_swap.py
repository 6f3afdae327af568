"""Real swaps between the two embedded models on this machine, against the page-cache floor.

For each model: the time to read its GGUF from the page cache (the floor of any load
here), then swaps into it from the other model, cold (its file evicted from the page
cache first) and prefetched (read into the page cache beforehand, as the graph does
while the other model works). Both ways of holding the weights run in the same call
(ORQUESTRA_EMBEDDED_LOAD): `mapped` (the default: an unloaded model is suspended, its
weight pages released, and mapped in again by the next swap) and `copied` (weights read
and repacked, every swap a full llama.cpp load). Each row also reports the process's
resident memory right after swapping into the model (what the suspended other model still
holds is included) and the model's generation speed, since the two modes trade one for
the other. Target: prefetched swap <= 1.5 x the floor.

    python bench/embedded_swap.py [--rounds 3] [--mode mapped --mode copied]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

import platformdirs
from _common import median, table

from orquestra.backends.embedded import resident_bytes
from orquestra.embedded import assets
from orquestra.prefetch import evict, warm
from orquestra.runtime import build_model_manager

TARGET_RATIO = 1.5
READ_CHUNK = 8 * 1024 * 1024
MODES = ("mapped", "copied")
# Generation speed probe: a fixed prompt, greedy, this many new tokens.
SPEED_PROMPT = "Write a Python function that returns the n-th Fibonacci number."
SPEED_TOKENS = 64
SPEED_ROUNDS = 3


def page_cache_read(path: Path) -> float:
    """Seconds to read the whole file once it is in the page cache."""
    warm(path, reserve_bytes=0)
    start = time.perf_counter()
    with path.open("rb", buffering=0) as fh:
        buffer = bytearray(READ_CHUNK)
        while fh.readinto(buffer):
            pass
    return time.perf_counter() - start


async def tokens_per_second(manager: Any, role: str) -> float:
    """Greedy generation speed of the resident model (prompt evaluated first), median."""
    async with manager.use(role) as chat:
        llama = chat.client

        def run() -> float:
            llama.reset()
            llama.eval(llama.tokenize(SPEED_PROMPT.encode()))
            start = time.perf_counter()
            out = llama.create_completion(SPEED_PROMPT, max_tokens=SPEED_TOKENS, temperature=0)
            return float(out["usage"]["completion_tokens"]) / (time.perf_counter() - start)

        return median([await asyncio.to_thread(run) for _ in range(SPEED_ROUNDS)])


async def measure(mode: str, rounds: int, floors: dict[str, float]) -> list[list[object]]:
    cache = Path(platformdirs.user_cache_dir("orquestra"))
    paths = {m.name: assets.assemble(m, cache) for m in assets.EMBEDDED_MODELS.values()}
    manager = build_model_manager(
        backend="embedded", cache_dir=cache, home_role="none", prefetch=False, embedded_load=mode
    )
    roles = {"brain": assets.BRAIN_MODEL.name, "executor": assets.EXECUTOR_MODEL.name}
    cold: dict[str, list[float]] = {r: [] for r in roles}
    hot: dict[str, list[float]] = {r: [] for r in roles}
    rss: dict[str, list[float]] = {r: [] for r in roles}
    speed: dict[str, float] = {}
    try:
        await manager.ensure("executor")
        for _ in range(rounds):
            for kind, store in (("cold", cold), ("prefetched", hot)):
                for role in ("brain", "executor"):
                    path = paths[roles[role]]
                    if kind == "cold":
                        evict(path)
                    else:
                        warm(path, reserve_bytes=0)
                    await manager.ensure(role)
                    event = manager.events[-1]
                    assert event.to_role == role and event.from_models, event
                    store[role].append(event.total_s)
                    rss[role].append(resident_bytes() / 2**30)
        for role in roles:
            speed[role] = await tokens_per_second(manager, role)
    finally:
        await manager.aclose()
    rows: list[list[object]] = []
    for role, name in roles.items():
        ratio = median(hot[role]) / floors[role]
        verdict = ("ok" if ratio <= TARGET_RATIO else "MISS") + f" (<= {TARGET_RATIO})"
        rows.append(
            [
                mode,
                f"{role} ({name})",
                f"{paths[name].stat().st_size / 2**30:.2f}",
                f"{floors[role]:.3f}",
                f"{median(cold[role]):.3f}",
                f"{median(hot[role]):.3f}",
                f"{median(cold[role]) / median(hot[role]):.1f}x",
                f"{ratio:.2f}x",
                verdict,
                f"{median(rss[role]):.2f}",
                f"{speed[role]:.1f}",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mode", action="append", choices=MODES, help="default: both")
    args = parser.parse_args()
    cache = Path(platformdirs.user_cache_dir("orquestra"))
    if not assets.ready(cache):
        raise SystemExit(f"The embedded models are not fetched: {assets.FETCH_HINT}")
    floors = {
        role: median([page_cache_read(assets.assemble(model, cache)) for _ in range(args.rounds)])
        for role, model in (("brain", assets.BRAIN_MODEL), ("executor", assets.EXECUTOR_MODEL))
    }
    rows = [
        row
        for mode in args.mode or MODES
        for row in asyncio.run(measure(mode, args.rounds, floors))
    ]
    print(
        table(
            [
                "load mode",
                "swap into",
                "GiB",
                "page-cache read s (floor)",
                "cold swap s",
                "prefetched swap s",
                "cold / prefetched",
                "prefetched / floor",
                "target",
                "RSS after GiB",
                "tok/s",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
