"""The Python in a request: its code, the functions to implement, the definitions to keep."""

from __future__ import annotations

import ast
import inspect

from tools.extract import code_blocks, extract_code

_BODY_PLACEHOLDERS = (ast.Pass,)


def is_stub(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the body is only a docstring, `pass`, `...` or `raise NotImplementedError`."""
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    for statement in body:
        if isinstance(statement, _BODY_PLACEHOLDERS):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # `...`
        if isinstance(statement, ast.Raise):
            raised = statement.exc
            name = raised.func if isinstance(raised, ast.Call) else raised
            if isinstance(name, ast.Name) and name.id == "NotImplementedError":
                continue
        return False
    return True


def top_level_definitions(tree: ast.Module, code: str) -> str:
    """The module's imports, functions, classes and assignments, as source.

    Top-level calls, prints, asserts, loops and `if __name__ == "__main__":` blocks are
    left out: they are usage examples or tests, and must not decide whether the
    definitions are right.
    """
    kept: list[str] = []
    lines = code.splitlines()
    for node in tree.body:
        keep = isinstance(
            node,
            ast.Import
            | ast.ImportFrom
            | ast.FunctionDef
            | ast.AsyncFunctionDef
            | ast.ClassDef
            | ast.Assign
            | ast.AnnAssign,
        )
        if isinstance(node, ast.Try):  # `try: import x` / `except ImportError: ...`
            keep = all(isinstance(n, ast.Import | ast.ImportFrom) for n in node.body)
        if keep:
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            last = node.end_lineno or node.lineno
            kept.append("\n".join(lines[first - 1 : last]))
    return "\n\n".join(kept)


def definitions_only(code: str) -> str:
    """`code` without its top-level statements other than definitions (see `top_level_definitions`).

    Code that does not parse is returned unchanged, so running it reports the error.
    """
    tree = parse_code(code)
    return code if tree is None else top_level_definitions(tree, code)


def raw_docstring(code: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The docstring as written (escape sequences kept, as doctests need them), dedented."""
    if not (node.body and isinstance(node.body[0], ast.Expr)):
        return ""
    value = node.body[0].value
    if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
        return ""
    raw = ast.get_source_segment(code, value) or value.value
    for quote in ('"""', "'''", '"', "'"):
        prefix = raw.lstrip("rRuU")
        if prefix.startswith(quote) and prefix.endswith(quote) and len(prefix) >= 2 * len(quote):
            raw = prefix[len(quote) : -len(quote)]
            break
    return inspect.cleandoc(raw)


def request_code(request: str) -> str:
    """The Python in the request: its fenced blocks, or the request when it is code."""
    blocks = code_blocks(request)
    if blocks:
        return extract_code(request)
    try:
        ast.parse(request)
    except (SyntaxError, ValueError):
        return extract_code(request)
    return request


def parse_code(code: str) -> ast.Module | None:
    """The module `code` parses to, or None when it does not parse."""
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
