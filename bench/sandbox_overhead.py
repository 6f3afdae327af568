"""A trivial snippet through the sandbox against bare `python -c`, side by side in one run.

Both run the same interpreter on `print(1)`; rounds interleave the variants so machine
noise hits them alike. The sandbox keeps a warm spare (started after each run, while the
model works; each spare serves exactly one run, with every confinement already in place);
the cold row starts everything on demand. Target: sandbox (auto tier) median <= 1.5 x bare
Python.

    python bench/sandbox_overhead.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from _common import median, percentile, table

from tools.isolation import available_tiers
from tools.launcher import POOL
from tools.sandbox import run_python

SNIPPET = "print(1)"
TARGET_RATIO = 1.5


def bare() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", SNIPPET], check=True, capture_output=True)
    return time.perf_counter() - start


def sandboxed(tier: str, warm: bool = True) -> float:
    # Between graph steps the model is generating, so the spare started after the
    # previous run is ready; the bench waits for it outside the timed region.
    POOL.wait_idle(10)
    start = time.perf_counter()
    result = run_python(SNIPPET, timeout_s=10, isolation=tier, warm=warm)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - start
    assert result.stdout == "1\n", result
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    variants = {"bare python -c": bare}
    auto = available_tiers()[0]
    for tier in available_tiers():
        label = f"sandbox {tier}" + (" (auto)" if tier == auto else "")
        variants[label] = lambda tier=tier: sandboxed(tier)
    variants[f"sandbox {auto}, cold (no spare)"] = lambda: sandboxed(auto, warm=False)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():  # warm-up: page cache, tier probes
        fn()
    for _ in range(args.rounds):
        for name, fn in variants.items():
            times[name].append(fn())
    base = median(times["bare python -c"])
    rows = []
    for name, samples in times.items():
        ratio = median(samples) / base
        verdict = ""
        if name.endswith("(auto)"):  # the default: strongest tier, warm spare
            verdict = ("ok" if ratio <= TARGET_RATIO else "over") + f" (<= {TARGET_RATIO})"
        rows.append(
            [
                name,
                len(samples),
                f"{median(samples) * 1000:.1f}",
                f"{percentile(samples, 0.9) * 1000:.1f}",
                f"{ratio:.2f}x",
                verdict,
            ]
        )
    print(table(["variant", "runs", "median ms", "p90 ms", "vs bare", "target"], rows))


if __name__ == "__main__":
    main()
