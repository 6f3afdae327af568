"""`read_spec`: a request's functions, definitions and examples, gathered into a `Spec`."""

from __future__ import annotations

import ast

from tools.spec.definitions import (
    is_stub,
    parse_code,
    raw_docstring,
    request_code,
    top_level_definitions,
)
from tools.spec.examples import docstring_line, doctest_examples, inline_examples, io_examples
from tools.spec.model import Example, FunctionSpec, Spec

# Most examples kept per request (the first ones; enough to catch a wrong solution).
MAX_EXAMPLES = 24


def read_spec(request: str) -> Spec:
    """What `request` specifies: functions to implement, definitions, examples."""
    code = request_code(request)
    tree = parse_code(code) if code else None
    if tree is None:
        return Spec(code="", source=code)
    functions = tuple(
        FunctionSpec(
            name=node.name,
            params=tuple(a.arg for a in [*node.args.posonlyargs, *node.args.args]),
            stub=is_stub(node),
            docstring=raw_docstring(code, node),
        )
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    )
    spec = Spec(
        code=top_level_definitions(tree, code), functions=functions, source=code.strip("\n")
    )
    if not functions:
        return spec
    names = frozenset(f.name for f in spec.targets)
    lines = request.splitlines()
    examples: list[Example] = []
    notes: list[str] = []
    seen: set[tuple[str, str]] = set()

    def keep(found: Example) -> None:
        key = (found.call, found.expected)
        if key not in seen and len(examples) < MAX_EXAMPLES:
            seen.add(key)
            examples.append(found)

    for target in spec.targets:
        base = docstring_line(request, target.docstring)
        for item in doctest_examples(target.docstring, base, names):
            if isinstance(item, str):
                notes.append(item)
            else:
                keep(item)
    if not examples:  # doctests outside docstrings (in the prose around the code)
        for item in doctest_examples(_outside_code(request), 0, names):
            if isinstance(item, Example):
                keep(item)
    for found in inline_examples(lines, names):
        keep(found)
    if len(spec.targets) == 1:
        for found in io_examples(lines, spec.targets[0]):
            keep(found)
    examples.sort(key=lambda e: e.line)
    return Spec(
        code=spec.code,
        functions=functions,
        examples=tuple(examples),
        source=spec.source,
        notes=tuple(notes),
    )


def _outside_code(request: str) -> str:
    """The request without its fenced blocks' fences (doctests may sit in prose)."""
    return "\n".join(line for line in request.splitlines() if not line.strip().startswith("```"))
