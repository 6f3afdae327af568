"""Real swaps between the two embedded models on this machine, against the page-cache floor.

For each model: the time to read its GGUF from the page cache (the floor of any load
here), then swaps into it from the other model, cold (its file evicted from the page
cache first) and prefetched (read into the page cache beforehand, as the graph does
while the other model works). Target: prefetched swap <= 1.5 x the floor.

    python bench/embedded_swap.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import platformdirs
from _common import median, table

from orquestra.embedded import assets
from orquestra.prefetch import evict, warm
from orquestra.runtime import build_model_manager

TARGET_RATIO = 1.5
READ_CHUNK = 8 * 1024 * 1024


def page_cache_read(path: Path) -> float:
    """Seconds to read the whole file once it is in the page cache."""
    warm(path, reserve_bytes=0)
    start = time.perf_counter()
    with path.open("rb", buffering=0) as fh:
        buffer = bytearray(READ_CHUNK)
        while fh.readinto(buffer):
            pass
    return time.perf_counter() - start


async def measure(rounds: int) -> list[list[object]]:
    cache = Path(platformdirs.user_cache_dir("orquestra"))
    paths = {m.name: assets.assemble(m, cache) for m in assets.EMBEDDED_MODELS.values()}
    manager = build_model_manager(
        backend="embedded", cache_dir=cache, home_role="none", prefetch=False
    )
    roles = {"brain": assets.BRAIN_MODEL.name, "executor": assets.EXECUTOR_MODEL.name}
    floors = {
        role: median([page_cache_read(paths[name]) for _ in range(rounds)])
        for role, name in roles.items()
    }
    cold: dict[str, list[float]] = {r: [] for r in roles}
    hot: dict[str, list[float]] = {r: [] for r in roles}
    try:
        await manager.ensure("executor")
        for _ in range(rounds):
            for mode, store in (("cold", cold), ("prefetched", hot)):
                for role in ("brain", "executor"):
                    path = paths[roles[role]]
                    if mode == "cold":
                        evict(path)
                    else:
                        warm(path, reserve_bytes=0)
                    await manager.ensure(role)
                    event = manager.events[-1]
                    assert event.to_role == role and event.from_models, event
                    store[role].append(event.total_s)
    finally:
        await manager.aclose()
    rows: list[list[object]] = []
    for role, name in roles.items():
        ratio = median(hot[role]) / floors[role]
        verdict = ("ok" if ratio <= TARGET_RATIO else "MISS") + f" (<= {TARGET_RATIO})"
        rows.append(
            [
                f"{role} ({name})",
                f"{paths[name].stat().st_size / 2**30:.2f}",
                f"{floors[role]:.3f}",
                f"{median(cold[role]):.3f}",
                f"{median(hot[role]):.3f}",
                f"{median(cold[role]) / median(hot[role]):.2f}x",
                f"{ratio:.1f}x",
                verdict,
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not assets.all_installed():
        raise SystemExit(f"The embedded models are not installed: {assets.INSTALL_HINT}")
    rows = asyncio.run(measure(args.rounds))
    print(
        table(
            [
                "swap into",
                "GiB",
                "page-cache read s (floor)",
                "cold swap s",
                "prefetched swap s",
                "cold / prefetched",
                "prefetched / floor",
                "target",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
