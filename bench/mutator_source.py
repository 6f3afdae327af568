"""The module as `bench/mutator.py` reads it: its text, the entry point, its local names.

`Source` addresses the text the way `ast` does (lines, UTF-8 columns), so an edit changes
one span and leaves the rest, comments included, as it was. `local_kinds` gives each name
the entry point binds a rough kind (int, float, str, list...; None when unsure), enough to
swap a variable for another of the same kind, and the offset of its first binding.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator


class Source:
    """The module's text, addressed the way `ast` addresses it (lines, UTF-8 columns)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1]
        return self.starts[lineno - 1] + len(line.encode()[:col].decode())

    def span(self, node: ast.AST) -> tuple[int, int]:
        start = self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        return start, self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]

    def segment(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.text[start:end]

    def replace(self, start: int, end: int, text: str) -> str:
        return self.text[:start] + text + self.text[end:]

    def between(self, left: ast.AST, right: ast.AST) -> tuple[int, int]:
        return self.span(left)[1], self.span(right)[0]

    def whole_lines(self, first: int, last: int) -> tuple[int, int] | None:
        """Offsets of lines first..last, if no other statement shares them."""
        head = self.lines[first - 1]
        tail = self.lines[last - 1]
        if not head.strip() or ";" in head or ";" in tail:
            return None
        return self.starts[first - 1], self.starts[last]


def entry_function(tree: ast.Module, entry_point: str) -> ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == entry_point:
            return node
    raise ValueError(f"{entry_point} is not defined at the top of the module")


def body_of(function: ast.FunctionDef) -> list[ast.stmt]:
    """The function's statements, its docstring left out."""
    body = function.body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        return body[1:]
    return body


def walk_statements(statements: list[ast.stmt]) -> Iterator[ast.AST]:
    for statement in statements:
        yield from ast.walk(statement)


def blocks(statements: list[ast.stmt]) -> Iterator[list[ast.stmt]]:
    """Every block of statements, nested ones included."""
    yield statements
    for statement in statements:
        for name in ("body", "orelse", "finalbody"):
            inner = getattr(statement, name, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                yield from blocks(inner)
        for handler in getattr(statement, "handlers", []):
            yield from blocks(handler.body)


def _annotation_kind(annotation: ast.expr | None) -> str | None:
    if annotation is None:
        return None
    return ast.unparse(annotation).split("[")[0].rsplit(".", 1)[-1].lower()


_CALL_KINDS = {
    **dict.fromkeys(("len", "int", "round", "ord"), "int"),
    **dict.fromkeys(("sum", "abs", "max", "min"), "num"),
    "float": "float",
    "str": "str",
    "chr": "str",
    "list": "list",
    "sorted": "list",
    "set": "set",
    "dict": "dict",
    "bool": "bool",
    "tuple": "tuple",
}
_METHOD_KINDS = {
    **dict.fromkeys(("join", "lower", "upper", "strip", "replace", "swapcase"), "str"),
    **dict.fromkeys(("count", "index", "find"), "int"),
    "split": "list",
}


def value_kind(node: ast.expr, known: dict[str, str | None]) -> str | None:
    """A rough type of an expression: enough to swap an int for an int, not for a list."""
    match node:
        case ast.Constant(value=bool()):
            return "bool"
        case ast.Constant(value=int()):
            return "int"
        case ast.Constant(value=float()):
            return "float"
        case ast.Constant(value=str()):
            return "str"
        case ast.List() | ast.ListComp():
            return "list"
        case ast.Dict() | ast.DictComp():
            return "dict"
        case ast.Set() | ast.SetComp():
            return "set"
        case ast.Tuple():
            return "tuple"
        case ast.Compare() | ast.BoolOp():
            return "bool"
        case ast.Call(func=ast.Name(id=name)):
            return _CALL_KINDS.get(name)
        case ast.Call(func=ast.Attribute(attr=attr)):
            return _METHOD_KINDS.get(attr)
        case ast.BinOp(left=left, right=right):
            return value_kind(left, known) or value_kind(right, known)
        case ast.UnaryOp(operand=operand):
            return value_kind(operand, known)
        case ast.Subscript(value=value, slice=ast.Slice()):
            return value_kind(value, known)
        case ast.Name(id=name):
            return known.get(name)
    return None


def _bind(
    known: dict[str, str | None], order: dict[str, int], name: str, kind: str | None, at: int
) -> None:
    if name not in known:
        known[name], order[name] = kind, at
    elif known[name] != kind:
        known[name] = None


def local_kinds(
    function: ast.FunctionDef, source: Source
) -> tuple[dict[str, str | None], dict[str, int]]:
    """Names the function binds (comprehension variables aside): rough kind, first binding."""
    known: dict[str, str | None] = {}
    order: dict[str, int] = {}
    args = function.args
    for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
        _bind(known, order, arg.arg, _annotation_kind(arg.annotation), 0)
    nodes = [n for n in walk_statements(body_of(function)) if hasattr(n, "lineno")]
    for node in sorted(nodes, key=lambda n: (n.lineno, n.col_offset)):  # type: ignore[attr-defined]
        # A name is bound once its statement's value (a loop's iterable) is computed.
        at = source.span(node.iter if isinstance(node, ast.For) else node)[1]
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and node.value is not None:
                    _bind(known, order, target.id, value_kind(node.value, known), at)
                elif isinstance(target, ast.Tuple):
                    for element in target.elts:
                        if isinstance(element, ast.Name):
                            _bind(known, order, element.id, None, at)
        elif isinstance(node, ast.For):
            loop = node.iter
            over = (
                loop.func.id
                if isinstance(loop, ast.Call) and isinstance(loop.func, ast.Name)
                else ""
            )
            if isinstance(node.target, ast.Name):
                kind = "int" if over == "range" else None
                if isinstance(loop, ast.Name) and known.get(loop.id) == "str":
                    kind = "str"
                _bind(known, order, node.target.id, kind, at)
            elif isinstance(node.target, ast.Tuple):
                for i, element in enumerate(node.target.elts):
                    if isinstance(element, ast.Name):
                        first = over == "enumerate" and i == 0
                        _bind(known, order, element.id, "int" if first else None, at)
    return known, order
