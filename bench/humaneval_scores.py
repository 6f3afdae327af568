"""HumanEval outcomes and the tables `bench/humaneval.py` prints from them.

The configurations' scores against the published ones, the targets the code and hybrid
paths are held to, and the ablation of the code path's stages.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from _common import table

PUBLISHED = {"executor": 61.6, "brain": 70.7}  # Qwen2.5-Coder report, greedy HumanEval
# Targets: code path >= bare executor + 8 points and >= bare brain; hybrid >= bare brain + 5;
# code path seconds <= 3x the bare executor's.
CODE_VS_EXECUTOR_PTS = 8.0
CODE_VS_BRAIN_PTS = 0.0
HYBRID_VS_BRAIN_PTS = 5.0
CODE_TIME_RATIO = 3.0
LABELS = {
    "executor": "bare executor (0.5B)",
    "brain": "bare brain (1.5B)",
    "code": "graph code path",
    "hybrid": "graph hybrid path",
}


@dataclass
class Outcome:
    task_id: str
    passed: bool
    seconds: float
    runs: list[dict[str, Any]] = field(default_factory=list)
    swap_s: float = 0.0


RESCUE_LABELS = {
    "greedy": "+ brain's answer",
    "debug": "+ brain repair",
    "sample": "+ brain sample",
}


def plan_positions(runs: list[dict[str, Any]], plan: list[str]) -> list[int]:
    """Where each of one step's rescue runs stands in the plan (repairs stopped early skip)."""
    positions: list[int] = []
    at = 0
    for run in runs:
        while at < len(plan) and plan[at] != run["strategy"]:
            at += 1
        positions.append(at)
        at += 1
    return positions


def rescue_stages(runs: list[dict[str, Any]], plan: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The runs of the code path stopped after each stage of the brain's rescue plan."""
    executor = [r for r in runs if r["by"] == "executor"]
    position: dict[int, int] = {}
    for step in {r["step"] for r in runs}:
        mine = [i for i, r in enumerate(runs) if r["by"] == "brain" and r["step"] == step]
        position.update(zip(mine, plan_positions([runs[i] for i in mine], plan), strict=True))
    stages: dict[str, list[dict[str, Any]]] = {}
    for k, strategy in enumerate(plan):
        label = RESCUE_LABELS[strategy]
        if strategy == "debug":
            label += f" {plan[: k + 1].count('debug')}"
        kept = [r for i, r in enumerate(runs) if r["by"] == "brain" and position[i] <= k]
        stages[label] = executor + kept
    return stages


def target(name: str, gain: float, at_least: float) -> list[str]:
    """A row of the targets table: a gain in points against its goal."""
    ok = "ok" if gain >= at_least else "MISS"
    return [name, f"{gain:+.1f} pts", f">= {at_least:+.0f}", ok]


def pct(values: list[bool]) -> float:
    return 100.0 * sum(values) / len(values) if values else float("nan")


def report(
    problems: list[dict[str, Any]],
    outcomes: dict[str, list[Outcome]],
    ablation: dict[str, list[tuple[bool, float]]],
    extra: dict[str, Any],
) -> None:
    n = len(problems)
    first, last = problems[0]["task_id"], problems[-1]["task_id"]
    print(
        f"\nHumanEval {first} .. {last}: {n} problems, embedded models, greedy, one run"
        + (f", graph context {extra}" if extra else "")
    )
    base_s = (
        statistics.mean(o.seconds for o in outcomes["executor"]) if "executor" in outcomes else None
    )
    rows = []
    for config, done in outcomes.items():
        mean_s = statistics.mean(o.seconds for o in done)
        rows.append(
            [
                LABELS[config],
                f"{sum(o.passed for o in done)}/{len(done)}",
                f"{pct([o.passed for o in done]):.1f}",
                f"{mean_s:.1f}",
                f"{mean_s / base_s:.2f}x" if base_s else "-",
                f"{PUBLISHED[config]:.1f}" if config in PUBLISHED else "-",
            ]
        )
    print(
        table(
            ["configuration", "passed", "pass@1 %", "mean s", "vs executor s", "published %"], rows
        )
    )
    score = {c: pct([o.passed for o in v]) for c, v in outcomes.items()}
    checks = []
    if "code" in score and "executor" in score:
        checks.append(
            target(
                "code path - bare executor", score["code"] - score["executor"], CODE_VS_EXECUTOR_PTS
            )
        )
    if "code" in score and "brain" in score:
        checks.append(
            target("code path - bare brain", score["code"] - score["brain"], CODE_VS_BRAIN_PTS)
        )
    if "hybrid" in score and "brain" in score:
        checks.append(
            target(
                "hybrid path - bare brain", score["hybrid"] - score["brain"], HYBRID_VS_BRAIN_PTS
            )
        )
    if "code" in outcomes and base_s:
        ratio = statistics.mean(o.seconds for o in outcomes["code"]) / base_s
        ok = ratio <= CODE_TIME_RATIO
        goal = f"<= {CODE_TIME_RATIO:.0f}x"
        checks.append(
            ["code path s / bare executor s", f"{ratio:.2f}x", goal, "ok" if ok else "MISS"]
        )
    if checks:
        print()
        print(table(["target", "measured", "goal", ""], checks))
    if ablation:
        print(
            "\nWhich mechanism earns its seconds "
            "(the code path's own runs, stopped after each stage):"
        )
        rows = []
        previous: tuple[float, float] | None = None
        for name, values in ablation.items():
            score_ = pct([v[0] for v in values])
            mean_s = statistics.mean(v[1] for v in values)
            delta = (
                ""
                if previous is None
                else f"{score_ - previous[0]:+.1f} pts for {mean_s - previous[1]:+.1f} s"
            )
            rows.append([name, f"{score_:.1f}", f"{mean_s:.1f}", delta])
            previous = (score_, mean_s)
        print(table(["stopped after", "pass@1 %", "mean s (model + runs)", "marginal"], rows))
        rescued = [o for o in outcomes["code"] if any(r["by"] == "brain" for r in o.runs)]
        print(f"{len(rescued)} of {len(outcomes['code'])} problems reached the brain's rescue.")
        if rescued and "brain" in outcomes:
            bare = {o.task_id: o.passed for o in outcomes["brain"]}
            solved = sum(o.passed for o in rescued)
            alone = sum(bare.get(o.task_id, False) for o in rescued)
            print(
                f"On those, the code path solved {solved} and the bare brain {alone} "
                f"(target: the rescue at least as many as the brain alone: "
                f"{'ok' if solved >= alone else 'MISS'})."
            )
