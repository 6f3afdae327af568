"""Plain values written in a request: Python literals, arithmetic, true/false/null words.

An example's arguments and expected value are trusted only when they are plain values;
anything else (`f(a)` with `a` undefined) is left out rather than guessed.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Any

# Longest example line, call or value considered (longer ones are data, not examples).
MAX_EXAMPLE_CHARS = 2000

# Words written for booleans and None in examples that are not Python.
_WORD_VALUES: dict[str, Any] = {
    "true": True,
    "false": False,
    "none": None,
    "null": None,
    "verdadeiro": True,
    "falso": False,
}


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
# Exponents beyond this are not examples anyone writes; refusing them keeps parsing cheap.
_MAX_EXPONENT = 64


def plain_value(node: ast.AST) -> Any:
    """The value of a literal expression, arithmetic on numbers included; ValueError if not."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id.lower() in _WORD_VALUES:
        return _WORD_VALUES[node.id.lower()]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        items = [plain_value(e) for e in node.elts]
        kind: type[Any] = {ast.Tuple: tuple, ast.List: list, ast.Set: set}[type(node)]
        return kind(items)
    if isinstance(node, ast.Dict):
        pairs = {}
        for key, item in zip(node.keys, node.values, strict=True):
            if key is None:
                raise ValueError("dict unpacking")
            pairs[plain_value(key)] = plain_value(item)
        return pairs
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        operand = plain_value(node.operand)
        if not isinstance(operand, int | float | complex):
            raise ValueError("unary operator on a non-number")
        return _UNARY[type(node.op)](operand)
    if isinstance(node, ast.BinOp):
        left, right = plain_value(node.left), plain_value(node.right)
        numbers = (int, float)
        if not isinstance(left, numbers) or not isinstance(right, numbers):
            raise ValueError("arithmetic on non-numbers")
        if isinstance(node.op, ast.Pow):
            if abs(right) > _MAX_EXPONENT:
                raise ValueError("exponent too large")
            return left**right
        if type(node.op) in _BINARY:
            try:
                return _BINARY[type(node.op)](left, right)
            except ZeroDivisionError:
                raise ValueError("division by zero") from None
    raise ValueError(f"not a plain value: {ast.dump(node)[:60]}")


def literal(source: str) -> Any:
    """The value written in `source` (Python literals, arithmetic, true/false/null).

    Raises:
        ValueError: `source` is not a plain value.
    """
    text = source.strip()
    if not text or len(text) > MAX_EXAMPLE_CHARS:
        raise ValueError("empty or too long")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ValueError("not an expression") from None
    return plain_value(tree.body)


def leading_value(text: str) -> str | None:
    """The longest start of `text` that is a plain value, as canonical Python source."""
    text = text.strip()[:MAX_EXAMPLE_CHARS]
    for end in range(len(text), 0, -1):
        piece = text[:end].rstrip().rstrip(".,;")
        if not piece or (end < len(text) and text[end - 1].isalnum() and text[end].isalnum()):
            continue
        try:
            return repr(literal(piece))
        except (ValueError, TypeError, RecursionError, MemoryError):
            continue
    return None
