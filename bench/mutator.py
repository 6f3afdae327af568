"""Realistic one-edit bugs in a HumanEval canonical solution, for `bench/workspace.py`.

`candidates` is pure: it reads the entry point's body with `ast` and returns every bug of
each kind that one edit of the source makes (the rest of the module, comments included,
is left as it was). `failing_mutants` is the effect: it keeps, for each kind in a seeded
order, the first candidate that still parses and fails at least one test of the project
(`bench/workspace_project.py` runs them in the sandbox); a candidate that hangs is dropped.

Kinds: a comparison flipped (`<` / `<=`, `>` / `>=`, `==` / `!=`, `in` / `not in`), an
off-by-one in a `range` bound, an index or a slice bound, a wrong variable (a name read
where another in-scope name of the same kind was meant), a missing case (an `if` or
`elif` branch, or an early `return`, deleted) and a wrong arithmetic operator.
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass

from mutator_source import (
    Source,
    blocks,
    body_of,
    entry_function,
    local_kinds,
    value_kind,
    walk_statements,
)
from workspace_project import MODULE, Project, run_tests

KINDS = ("comparison", "off_by_one", "wrong_variable", "missing_case", "arithmetic")
# Candidates of one kind tried against the tests before the kind is given up for a problem.
TRIES_PER_KIND = 8

FLIPPED: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
}  # fmt: skip
WRONG_ARITHMETIC: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult,
}  # fmt: skip
TOKENS: dict[type[ast.AST], str] = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
    ast.In: "in", ast.NotIn: "not in", ast.Add: "+", ast.Sub: "-", ast.Mult: "*",
    ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
}  # fmt: skip
# Expressions that take `+ 1` / `- 1` without parentheses.
_PLAIN = (ast.Name, ast.Call, ast.Attribute, ast.Subscript, ast.Constant, ast.BinOp)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class Mutant:
    """One bug: the module with a single edit, and what the edit did."""

    kind: str
    line: int
    description: str
    source: str


def _token(source: Source, gap: tuple[int, int], token: str) -> tuple[int, int] | None:
    """Where the operator `token` is written between two operands (None when unsure)."""
    text = source.text[gap[0] : gap[1]]
    if token == "in":
        pattern = r"\bin\b"
        if re.search(r"\bnot\b", text):
            return None
    elif token == "not in":
        pattern = r"\bnot\s+in\b"
    else:
        pattern = rf"(?<![<>=!*/%+\-]){re.escape(token)}(?![<>=*/])"
    found = list(re.finditer(pattern, text))
    if len(found) != 1:
        return None
    return gap[0] + found[0].start(), gap[0] + found[0].end()


def _comparisons(body: list[ast.stmt], source: Source) -> Iterator[Mutant]:
    for node in walk_statements(body):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            flipped = FLIPPED.get(type(op))
            if flipped is None:
                continue
            where = _token(source, source.between(operands[i], operands[i + 1]), TOKENS[type(op)])
            if where is None:
                continue
            old, new = TOKENS[type(op)], TOKENS[flipped]
            text = source.replace(*where, new)
            yield Mutant("comparison", node.lineno, f"`{old}` became `{new}`", text)


def _shifted(node: ast.expr, source: Source, delta: int) -> str | None:
    """The expression one more or one less, written as a person would."""
    sign = "+" if delta > 0 else "-"
    match node:
        case ast.Constant(value=int() as value) if not isinstance(value, bool):
            return str(value + delta)
        case ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=int() as value)):
            return str(-value + delta)
        case ast.BinOp(op=ast.Add() | ast.Sub() as op, right=ast.Constant(value=int() as k)):
            shifted = k + delta if isinstance(op, ast.Add) else k - delta
            if shifted == 0:
                return source.segment(node.left)
            if shifted < 0:
                return None
            start, constant = source.span(node)[0], source.span(node.right)[0]
            return source.text[start:constant] + str(shifted)
        case ast.BinOp(op=ast.BitOr() | ast.BitAnd() | ast.BitXor() | ast.LShift() | ast.RShift()):
            return None
        case _ if isinstance(node, _PLAIN):
            return f"{source.segment(node)} {sign} 1"
    return None


def _off_by_ones(
    body: list[ast.stmt], source: Source, known: dict[str, str | None]
) -> Iterator[Mutant]:
    bounds: list[tuple[ast.expr, str]] = []
    for node in walk_statements(body):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "range"
        ):
            bounds += [(arg, "range bound") for arg in node.args[:2]]
        elif isinstance(node, ast.Subscript):
            index = node.slice
            if isinstance(index, ast.Slice):
                bounds += [(b, "slice bound") for b in (index.lower, index.upper) if b is not None]
            elif value_kind(index, known) == "int":
                bounds.append((index, "index"))
    for bound, what in bounds:
        for delta in (1, -1):
            new = _shifted(bound, source, delta)
            if new is None or (what == "range bound" and new == "-1"):
                continue
            old = source.segment(bound)
            text = source.replace(*source.span(bound), new)
            yield Mutant("off_by_one", bound.lineno, f"{what} `{old}` became `{new}`", text)


class _Loads(ast.NodeVisitor):
    """Names read in the function's own scope, outside the comprehensions that rebind them."""

    def __init__(self) -> None:
        self.found: list[tuple[ast.Name, frozenset[str]]] = []
        self.hidden: frozenset[str] = frozenset()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.found.append((node, self.hidden))

    def visit_Call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Name):
            self.visit(node.func)
        for child in [*node.args, *node.keywords]:
            self.visit(child)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        return None  # another scope

    visit_Lambda = visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef  # type: ignore[assignment]

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, _COMPREHENSIONS):
            outer = self.hidden
            targets = {
                n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)
            }
            self.hidden = outer | targets
            super().generic_visit(node)
            self.hidden = outer
            return
        super().generic_visit(node)


def _wrong_variables(
    body: list[ast.stmt], source: Source, known: dict[str, str | None], order: dict[str, int]
) -> Iterator[Mutant]:
    loads = _Loads()
    for statement in body:
        loads.visit(statement)
    for name, hidden in loads.found:
        if name.id not in known or name.id in hidden:
            continue
        at = source.span(name)[0]
        for other in known:
            if other == name.id or other in hidden or order[other] >= at:
                continue
            if known[other] != known[name.id]:
                continue
            text = source.replace(*source.span(name), other)
            yield Mutant("wrong_variable", name.lineno, f"`{name.id}` became `{other}`", text)


def _missing_cases(body: list[ast.stmt], source: Source) -> Iterator[Mutant]:
    for block in blocks(body):
        for statement in block:
            gone: tuple[int, int] | None = None
            what = ""
            if isinstance(statement, ast.If) and len(block) > 1 and not statement.orelse:
                gone = source.whole_lines(
                    statement.lineno, statement.end_lineno or statement.lineno
                )
                what = f"the `if {ast.unparse(statement.test)}:` branch was deleted"
            elif isinstance(statement, ast.Return) and len(block) > 1 and block is not body:
                gone = source.whole_lines(
                    statement.lineno, statement.end_lineno or statement.lineno
                )
                what = "an early `return` was deleted"
            if gone is not None:
                yield Mutant("missing_case", statement.lineno, what, source.replace(*gone, ""))
            if isinstance(statement, ast.If) and len(statement.orelse) == 1:
                branch = statement.orelse[0]
                if not isinstance(branch, ast.If):
                    continue
                if not source.lines[branch.lineno - 1].lstrip().startswith("elif"):
                    continue
                gone = source.whole_lines(
                    branch.lineno, branch.body[-1].end_lineno or branch.lineno
                )
                if gone is not None:
                    what = f"the `elif {ast.unparse(branch.test)}:` branch was deleted"
                    yield Mutant("missing_case", branch.lineno, what, source.replace(*gone, ""))


def _concatenates(node: ast.BinOp | ast.AugAssign, known: dict[str, str | None]) -> bool:
    operands = [node.left, node.right] if isinstance(node, ast.BinOp) else [node.target, node.value]
    kinds = {value_kind(o, known) for o in operands}
    return bool(kinds & {"str", "list", "tuple", "set", "dict"}) or any(
        isinstance(o, ast.JoinedStr) for o in operands
    )


def _arithmetic(
    body: list[ast.stmt], source: Source, known: dict[str, str | None]
) -> Iterator[Mutant]:
    for node in walk_statements(body):
        if not isinstance(node, ast.BinOp | ast.AugAssign):
            continue
        wrong = WRONG_ARITHMETIC.get(type(node.op))
        if wrong is None or _concatenates(node, known):
            continue
        old, new = TOKENS[type(node.op)], TOKENS[wrong]
        if isinstance(node, ast.BinOp):
            gap = source.between(node.left, node.right)
        else:
            gap = source.between(node.target, node.value)
            old, new = f"{old}=", f"{new}="
        where = _token(source, gap, old)
        if where is None:
            continue
        text = source.replace(*where, new)
        yield Mutant("arithmetic", node.lineno, f"`{old}` became `{new}`", text)


def candidates(module: str, entry_point: str) -> list[Mutant]:
    """Every one-edit bug of every kind in the entry point's body (each still parses)."""
    source = Source(module)
    function = entry_function(ast.parse(module), entry_point)
    body = body_of(function)
    known, order = local_kinds(function, source)
    found = [
        *_comparisons(body, source),
        *_off_by_ones(body, source, known),
        *_wrong_variables(body, source, known, order),
        *_missing_cases(body, source),
        *_arithmetic(body, source, known),
    ]
    unique: dict[str, Mutant] = {}
    for mutant in found:
        if mutant.source != module and _parses(mutant.source):
            unique.setdefault(mutant.source, mutant)
    return list(unique.values())


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def seeded_order(mutants: list[Mutant], task_id: str, seed: int) -> dict[str, list[Mutant]]:
    """The candidates of each kind, kinds and candidates in an order fixed by the seed."""
    rng = random.Random(f"{seed}:{task_id}")
    kinds = list(KINDS)
    rng.shuffle(kinds)
    ordered: dict[str, list[Mutant]] = {}
    for kind in kinds:
        of_kind = [m for m in mutants if m.kind == kind]
        rng.shuffle(of_kind)
        ordered[kind] = of_kind
    return ordered


async def failing_mutants(project: Project, seed: int, wanted: int = len(KINDS)) -> list[Mutant]:
    """Up to `wanted` bugs of different kinds that fail the project's tests (seeded choice)."""
    canonical = await run_tests(project.files)
    if not canonical.passed:
        raise ValueError(f"{project.task_id}: the canonical solution fails its own tests")
    chosen: list[Mutant] = []
    by_kind = seeded_order(candidates(project.module, project.entry_point), project.task_id, seed)
    for of_kind in by_kind.values():
        for mutant in of_kind[:TRIES_PER_KIND]:
            run = await run_tests({**project.files, MODULE: mutant.source})
            if run.failed_tests:
                chosen.append(mutant)
                break
        if len(chosen) == wanted:
            break
    return chosen
