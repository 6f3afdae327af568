"""Checks the request did not give: input/expected cases the brain derives from the specification.

A function asked for with no example to check it against is otherwise trusted unchecked.
As CodeT does, the brain first writes a few `assert f(...) == ...` cases from the
specification alone (no candidate code in sight); a candidate that agrees with them is
accepted, and one that disagrees is repaired or replaced like any other failing candidate.
Cases are kept only when they are plain (a call of a function the request asks for with
literal arguments, a literal expected value); a case that contradicts the specification's
own examples is dropped, and so are repeated calls.
"""

from __future__ import annotations

import ast
from dataclasses import replace

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

from nodes.common import message_text
from nodes.prompts import DERIVE_CASES_PROMPT
from nodes.solve import CodeTask, sampled
from tools.extract import extract_code
from tools.spec import Example, Spec
from tools.spec.examples import plain_call
from tools.spec.values import plain_value

# How many cases the brain is asked for, and how many are kept at most.
DERIVED_CASES = 5
# Seed of the greedy call that writes them (a run is reproducible).
DERIVE_SEED = 7


def _case(statement: ast.stmt, names: frozenset[str]) -> Example | None:
    """`assert f(1, 2) == 3` as an Example, or None when it is not a plain case."""
    if not isinstance(statement, ast.Assert) or not isinstance(statement.test, ast.Compare):
        return None
    test = statement.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return None
    call = ast.unparse(test.left)
    if not plain_call(call, names):
        return None
    try:
        value = plain_value(test.comparators[0])
    except (ValueError, TypeError, RecursionError):
        return None
    return Example(call=call, expected=repr(value), line=0)  # line 0: not the request's


def cases_from_reply(text: str, spec: Spec) -> tuple[Example, ...]:
    """The plain cases in the brain's reply that agree with the specification's examples."""
    code = extract_code(text) or text
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ()
    names = frozenset(f.name for f in spec.targets)
    given = {e.call: e.expected for e in spec.examples}
    kept: dict[str, Example] = {}
    for statement in ast.walk(tree):
        if not isinstance(statement, ast.stmt):
            continue
        case = _case(statement, names)
        if case is None or case.call in kept:
            continue
        if case.call in given and given[case.call] != case.expected:
            continue  # contradicts the request's own example
        kept[case.call] = case
    return tuple(kept.values())[:DERIVED_CASES]


async def derive_cases(chat: BaseChatModel, task: CodeTask) -> tuple[Example, ...]:
    """The brain's cases for `task`'s functions, from the specification alone."""
    names = ", ".join(f"`{f.name}`" for f in task.spec.targets)
    prompt = DERIVE_CASES_PROMPT.format(
        source=task.spec.source or task.request, names=names, count=DERIVED_CASES
    )
    reply = await sampled(chat, 0.0, DERIVE_SEED).ainvoke([HumanMessage(prompt)])
    return cases_from_reply(message_text(reply), task.spec)


def with_cases(task: CodeTask, cases: tuple[Example, ...]) -> CodeTask:
    """`task` checked against `cases` as if the request had given them."""
    return replace(task, spec=replace(task.spec, examples=cases), derived_checks=True)
