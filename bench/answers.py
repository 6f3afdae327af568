"""Right answers, in the request's language: checkable requests end to end on the embedded models.

Each request of `tests/answer_cases.py` (Portuguese and English, none from a data set) goes
through the whole workflow as `orquestra run` sends it (the router picks the path). A row
is right when the final answer states the expected value and is written in the request's
language (judged on its prose, code and outputs left out; a short answer with too little
prose to judge counts as right). Beside that, what a person would write
(`tests/answer_cases.py`): the value in the answer's first sentence, an explanation of a
few sentences when the request asks for one, no English sentence in a Portuguese answer's
prose or plan. The last line counts the answers that pass every check that applies.

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
from tests.answer_cases import (
    CASES,
    explained,
    no_english,
    plan_in_language,
    result_first,
    states,
)
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
    person = 0
    try:
        for number, case in chosen:
            start = time.perf_counter()
            final = await graph.ainvoke(user(case.request), context=Context())
            seconds = time.perf_counter() - start
            answer = str(final["messages"][-1].content)
            value = states(answer, case.expected)
            language = not in_other_language(answer, case.language)
            checks = {
                "first": result_first(answer, case.expected),
                "explained": explained(answer, case.request),
                "no English": no_english(answer, case.language),
                "plan": plan_in_language(final.get("plan"), case.language),
            }
            right += value and language
            person += value and language and all(v for v in checks.values() if v is not None)
            rows.append(
                [
                    number,
                    case.request[:50] + ("…" if len(case.request) > 50 else ""),
                    case.language,
                    final["task_type"],
                    case.expected[:14],
                    _mark(value),
                    _mark(language),
                    *(_mark(v) for v in checks.values()),
                    f"{seconds:.1f}",
                ]
            )
            notes = "".join(f"\n  note: {note}" for note in final.get("notes", []))
            print(f"--- {number}: {case.request}\n{answer}{notes}\n", flush=True)
    finally:
        await manager.aclose()
    headers = ["#", "request", "lang", "path", "expected", "stated", "same language"]
    headers += ["result first", "explained", "no English", "plan in lang", "s"]
    print(table(headers, rows))
    print(f"\n{right} of {len(chosen)} answers right and in the request's language.")
    print(f"{person} of {len(chosen)} also pass every check of what a person would write.")


def _mark(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "NO"


if __name__ == "__main__":
    asyncio.run(main())
