"""Right answers, in the request's language: checkable requests end to end on the embedded models.

Each request of `tests/answer_cases.py` (Portuguese and English, none from a data set) goes
through the whole workflow as `orquestra run` sends it (the router picks the path). A row
is right when the final answer states the expected value and is written in the request's
language (judged on its prose, code and outputs left out; a short answer with too little
prose to judge counts as right).

    python bench/answers.py [--only N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from _common import table

os.environ.setdefault("ORQUESTRA_BACKEND", "embedded")

from graph import Context, build_graph
from nodes.common import in_other_language
from orquestra.runtime import build_model_manager, set_model_manager
from tests.answer_cases import CASES, states
from tests.graph_support import user


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", type=int, action="append", help="case numbers (1-based)")
    args = parser.parse_args()
    chosen = [(i, c) for i, c in enumerate(CASES, 1) if not args.only or i in args.only]
    manager = await asyncio.to_thread(build_model_manager)
    set_model_manager(manager)
    graph = build_graph()
    rows = []
    right = 0
    try:
        for number, case in chosen:
            start = time.perf_counter()
            final = await graph.ainvoke(user(case.request), context=Context())
            seconds = time.perf_counter() - start
            answer = str(final["messages"][-1].content)
            value = states(answer, case.expected)
            language = not in_other_language(answer, case.language)
            right += value and language
            rows.append(
                [
                    number,
                    case.request[:58] + ("…" if len(case.request) > 58 else ""),
                    case.language,
                    final["task_type"],
                    case.expected[:14],
                    "yes" if value else "NO",
                    "yes" if language else "NO",
                    f"{seconds:.1f}",
                ]
            )
            print(f"--- {number}: {case.request}\n{answer}\n", flush=True)
    finally:
        await manager.aclose()
    print(
        table(
            ["#", "request", "lang", "path", "expected", "stated", "same language", "s"],
            rows,
        )
    )
    print(f"\n{right} of {len(chosen)} answers right and in the request's language.")


if __name__ == "__main__":
    asyncio.run(main())
