"""The HumanEval bench's ablation: the code path's runs stopped after each rescue stage."""

from __future__ import annotations

from typing import Any

from humaneval_scores import plan_positions, rescue_stages

PLAN = ["greedy", "debug", "debug", "sample"]


def runs_of(*strategies: str) -> list[dict[str, Any]]:
    executor = [{"by": "executor", "step": 1, "strategy": "greedy"}]
    brain = [{"by": "brain", "step": 1, "strategy": s} for s in strategies]
    return executor + brain


def test_a_repair_stopped_early_leaves_its_stage_as_the_one_before() -> None:
    runs = runs_of("greedy", "debug", "sample")  # the second repair was skipped
    assert plan_positions(runs[1:], PLAN) == [0, 1, 3]
    stages = rescue_stages(runs, PLAN)
    assert list(stages) == [
        "+ brain's answer",
        "+ brain repair 1",
        "+ brain repair 2",
        "+ brain sample",
    ]
    counts = [len(subset) for subset in stages.values()]
    assert counts == [2, 3, 3, 4]
    assert stages["+ brain repair 2"] == stages["+ brain repair 1"]


def test_a_problem_the_executor_settled_is_the_same_at_every_stage() -> None:
    runs = runs_of()
    assert all(subset == runs for subset in rescue_stages(runs, PLAN).values())
