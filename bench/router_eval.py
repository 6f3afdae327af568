"""Router accuracy on shared/data/routing/dev.jsonl: overall, per source, confusion, latency.

    python bench/router_eval.py [--data PATH] [--errors N]

Reports the balanced accuracy of `role` (mean of brain and executor recall; target
>= 0.97), accuracy per source (target >= 0.90 each), macro-F1, the confusion matrix,
and p50/p99 latency of `classify` (target p99 < 1 ms).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from pathlib import Path

from _common import ROOT, percentile, table

from orquestra.router import IntelligentRouter

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "routing" / "dev.jsonl"
TARGET_BALANCED = 0.97
TARGET_PER_SOURCE = 0.90
TARGET_P99_MS = 1.0
ROLES = ("brain", "executor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--errors", type=int, default=0, help="print up to N misrouted rows")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    router = IntelligentRouter()
    for row in rows[:50]:  # warm-up
        router.classify(row["text"])
    latencies, predictions = [], []
    for row in rows:
        start = time.perf_counter()
        decision = router.classify(row["text"])
        latencies.append((time.perf_counter() - start) * 1000)
        predictions.append(decision)

    confusion: Counter[tuple[str, str]] = Counter()
    per_source: dict[str, list[bool]] = defaultdict(list)
    errors = []
    for row, decision in zip(rows, predictions, strict=True):
        confusion[(row["route"], decision.role)] += 1
        per_source[row["source"]].append(row["route"] == decision.role)
        if row["route"] != decision.role:
            errors.append((row, decision))

    recall = {r: confusion[(r, r)] / max(sum(confusion[(r, p)] for p in ROLES), 1) for r in ROLES}
    precision = {
        r: confusion[(r, r)] / max(sum(confusion[(t, r)] for t in ROLES), 1) for r in ROLES
    }
    f1 = {r: 2 * precision[r] * recall[r] / max(precision[r] + recall[r], 1e-9) for r in ROLES}
    balanced = sum(recall.values()) / 2
    accuracy = sum(confusion[(r, r)] for r in ROLES) / len(rows)

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISS"

    print(f"Router evaluation on {args.data.name}: {len(rows)} rows\n")
    print(
        table(
            ["metric", "value", "target"],
            [
                [
                    "balanced accuracy (role)",
                    f"{balanced:.4f}",
                    f"{verdict(balanced >= TARGET_BALANCED)} (>= {TARGET_BALANCED})",
                ],
                ["accuracy (role)", f"{accuracy:.4f}", ""],
                ["macro-F1 (role)", f"{sum(f1.values()) / 2:.4f}", ""],
                ["brain recall", f"{recall['brain']:.4f}", ""],
                ["executor recall", f"{recall['executor']:.4f}", ""],
                ["latency p50 (ms)", f"{percentile(latencies, 0.5):.3f}", ""],
                [
                    "latency p99 (ms)",
                    f"{percentile(latencies, 0.99):.3f}",
                    f"{verdict(percentile(latencies, 0.99) < TARGET_P99_MS)} (< {TARGET_P99_MS})",
                ],
                ["latency max (ms)", f"{max(latencies):.3f}", ""],
            ],
        )
    )
    print()
    print(
        table(
            ["source", "rows", "accuracy", "target"],
            [
                [
                    src,
                    len(hits),
                    f"{sum(hits) / len(hits):.4f}",
                    verdict(sum(hits) / len(hits) >= TARGET_PER_SOURCE)
                    + f" (>= {TARGET_PER_SOURCE})",
                ]
                for src, hits in sorted(per_source.items())
            ],
        )
    )
    print()
    print(
        table(
            ["true \\ predicted", *ROLES], [[t, *(confusion[(t, p)] for p in ROLES)] for t in ROLES]
        )
    )
    for row, decision in errors[: args.errors]:
        print(
            f"\n[{row['source']}] {row['route']} -> {decision.role} {decision.reasons}\n"
            f"  {row['text'][:300]!r}"
        )


if __name__ == "__main__":
    main()
