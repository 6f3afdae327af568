"""Attempts at workspace tasks and the tables `bench/workspace.py` prints from them.

Per task family (bug fixing, refactoring): each contender's solved share, median and p90
seconds, and its total seconds against the bare executor's; then solved counts per task
kind; then the targets the graph is held to (graph >= bare executor + 10 points and >=
bare brain, in at most 3x the bare executor's seconds).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from _common import median, percentile, table

GRAPH_VS_EXECUTOR_PTS = 10.0
GRAPH_VS_BRAIN_PTS = 0.0
GRAPH_TIME_RATIO = 3.0
LABELS = {
    "executor": "bare executor (0.5B)",
    "brain": "bare brain (1.5B)",
    "graph": "graph (workspace in its context)",
}


@dataclass
class Attempt:
    """One contender on one task: solved or not, why, and the seconds to its answer."""

    contender: str
    task: str
    family: str
    kind: str
    solved: bool
    why: str
    seconds: float
    notes: dict[str, str] = field(default_factory=dict)
    """What else is worth knowing (the graph's route, whether it touched the files...)."""
    reply: str = ""
    """The model's reply (the graph's final message), kept for `--json`."""


def pct(values: list[bool]) -> float:
    return 100.0 * sum(values) / len(values) if values else float("nan")


def _family_table(attempts: dict[str, list[Attempt]]) -> str:
    base = sum(a.seconds for a in attempts.get("executor", []))
    rows: list[list[object]] = []
    for contender, done in attempts.items():
        seconds = [a.seconds for a in done]
        total = sum(seconds)
        rows.append(
            [
                LABELS[contender],
                f"{sum(a.solved for a in done)}/{len(done)}",
                f"{pct([a.solved for a in done]):.1f}",
                f"{median(seconds):.1f}",
                f"{percentile(seconds, 0.9):.1f}",
                f"{total / base:.2f}x" if base else "-",
            ]
        )
    headers = ["contender", "solved", "solved %", "median s", "p90 s", "s vs executor"]
    return table(headers, rows)


def _kinds_table(attempts: dict[str, list[Attempt]]) -> str:
    kinds = sorted({a.kind for done in attempts.values() for a in done})
    rows = []
    for kind in kinds:
        row: list[object] = [kind]
        for done in attempts.values():
            of_kind = [a for a in done if a.kind == kind]
            row.append(f"{sum(a.solved for a in of_kind)}/{len(of_kind)}")
        rows.append(row)
    return table(["kind", *attempts], rows)


def _targets(family: str, attempts: dict[str, list[Attempt]]) -> list[list[object]]:
    if "graph" not in attempts:
        return []
    score = {c: pct([a.solved for a in done]) for c, done in attempts.items()}
    rows: list[list[object]] = []
    for other, goal in (("executor", GRAPH_VS_EXECUTOR_PTS), ("brain", GRAPH_VS_BRAIN_PTS)):
        if other in score:
            gain = score["graph"] - score[other]
            ok = "ok" if gain >= goal else "MISS"
            rows.append(
                [f"{family}: graph - bare {other}", f"{gain:+.1f} pts", f">= {goal:+.0f}", ok]
            )
    base = sum(a.seconds for a in attempts.get("executor", []))
    if base:
        ratio = sum(a.seconds for a in attempts["graph"]) / base
        ok = "ok" if ratio <= GRAPH_TIME_RATIO else "MISS"
        limit = f"<= {GRAPH_TIME_RATIO:.0f}x"
        rows.append([f"{family}: graph s / bare executor s", f"{ratio:.2f}x", limit, ok])
    return rows


def _graph_notes(done: list[Attempt]) -> str:
    routes = Counter(a.notes.get("route", "?") for a in done)
    touched = sum(a.notes.get("files_changed") == "yes" for a in done)
    would = sum(a.notes.get("reply_files_solve") == "yes" for a in done)
    offered = sum(a.notes.get("reply_files_solve") in ("yes", "no") for a in done)
    return (
        f"graph: routes {dict(routes)}; changed the workspace in {touched} of {len(done)}; "
        f"its final message had files in {offered}, which, written by the bench, would solve "
        f"{would}"
    )


def report(attempts: list[Attempt], header: str) -> None:
    print(f"\n{header}")
    targets: list[list[object]] = []
    for family in sorted({a.family for a in attempts}):
        by_contender: dict[str, list[Attempt]] = {}
        for attempt in attempts:
            if attempt.family == family:
                by_contender.setdefault(attempt.contender, []).append(attempt)
        tasks = len(next(iter(by_contender.values())))
        print(f"\n{family} ({tasks} tasks)")
        print(_family_table(by_contender))
        print()
        print(_kinds_table(by_contender))
        if "graph" in by_contender:
            print(_graph_notes(by_contender["graph"]))
        targets += _targets(family, by_contender)
    if targets:
        print()
        print(table(["target", "measured", "goal", ""], targets))
