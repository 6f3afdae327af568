"""What a coding request specifies: the functions to write, their examples, the output asked for.

Checks of model-written code must come from the specification, never from the model that
wrote the code (a test the coder invents encodes its own mistake). `read_spec` reads a
request, in any language, and finds:

- the Python it contains (fenced blocks, or the request itself when it is code), and in it
  the functions to implement (stubs: a signature and a docstring) and the definitions the
  solution may rely on (imports, helper functions, constants);
- the examples the request gives for those functions, in the shapes people write them:
  doctests (`>>> f(1)` then `2`), `f(1) == 2`, `f(1) => 2`, `f(1) ➞ 2`, `f(1) -> 2`,
  `f(1) # returns 2`, `f(1) should return 2`, `Input: 1` / `Output: 2` pairs, and
  `For x = 1 the output should be 2`. An example whose arguments or expected value are
  not plain values (`f(a)` with `a` undefined) is left out rather than guessed.

Everything here is pure: text in, data out.
"""

from __future__ import annotations

import ast
import doctest
import inspect
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tools.extract import code_blocks, extract_code

# Longest example line, call or value considered (longer ones are data, not examples).
MAX_EXAMPLE_CHARS = 2000
# Most examples kept per request (the first ones; enough to catch a wrong solution).
MAX_EXAMPLES = 24
# Lines after an "Input:" line within which its "Output:" must come.
INPUT_OUTPUT_GAP = 3

# Words written for booleans and None in examples that are not Python.
_WORD_VALUES: dict[str, Any] = {
    "true": True,
    "false": False,
    "none": None,
    "null": None,
    "verdadeiro": True,
    "falso": False,
}
# Between a call and its expected value: `==`, `=>`, `==>`, `➞`, `->`, `→`, `=`, `:`, or words.
_RESULT_SEPARATOR = re.compile(
    r"^\s*(?:==>|==|=>|➞|->|-->|→|⇒|=|:|\bis\b|#\s*(?:returns?|=>|->|==)|"
    r"(?:should|must|will)\s+(?:return|be|give|output)|returns?|gives|outputs?|"
    r"deve\s+(?:retornar|devolver|ser|dar)|retorna|devolve|resulta\s+em)\s*(?::\s*)?",
    re.IGNORECASE,
)
_INPUT_LINE = re.compile(r"^\s*(?:input|inputs|entrada)\s*:\s*(?P<args>.+)$", re.IGNORECASE)
_OUTPUT_LINE = re.compile(
    r"^\s*(?:output|outputs|sa[ií]da|resultado|result)\s*:\s*(?P<value>.+)$", re.IGNORECASE
)
# "For x = 1, y = 2 the output should be 3" / "Para x = 1 a saída deve ser 3".
_FOR_ASSIGNMENTS = re.compile(
    r"\b(?:for|para|with|com)\s+(?P<args>[A-Za-z_]\w*\s*=.+?)\s*,?\s+(?:the|a|o)\s+"
    r"(?:output|result|answer|return value|sa[ií]da|resultado|resposta)\s+"
    r"(?:should be|must be|is|will be|deve ser|[eé]|ser[aá])\s*:?\s*(?P<value>.+)$",
    re.IGNORECASE,
)
_ASSIGNMENT = re.compile(r"(?P<name>[A-Za-z_]\w*)\s*=\s*")
_BODY_PLACEHOLDERS = (ast.Pass,)


@dataclass(frozen=True)
class FunctionSpec:
    """A function the request defines or asks for."""

    name: str
    params: tuple[str, ...]
    stub: bool
    """True when its body is only a docstring, `pass`, `...` or `raise NotImplementedError`."""
    docstring: str


@dataclass(frozen=True)
class Example:
    """One example of the specification: a call and the value (or output) it must give."""

    call: str
    """A Python expression calling a function of the spec."""
    expected: str
    """The expected value as Python source (a literal), or the expected printed text."""
    line: int
    """Line of the request where the example is written (1-based)."""
    setup: tuple[str, ...] = ()
    """Doctest statements that run before the call."""
    as_text: bool = False
    """True when `expected` is text to compare with the value's repr or printed output."""

    def describe(self) -> str:
        """The example as one line: `f(1) == 2`."""
        return f"{self.call} == {self.expected}"


@dataclass(frozen=True)
class Spec:
    """What a request specifies for the code that answers it."""

    code: str
    """Definitions from the request (imports, functions, constants) run before a solution."""
    functions: tuple[FunctionSpec, ...] = ()
    examples: tuple[Example, ...] = ()
    source: str = ""
    """The request's Python exactly as written (shown to the coder verbatim)."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Examples that were found but left out, and why."""

    @property
    def targets(self) -> tuple[FunctionSpec, ...]:
        """The functions a solution must define: the stubs, else every function given."""
        stubs = tuple(f for f in self.functions if f.stub)
        return stubs or self.functions

    @property
    def is_function_task(self) -> bool:
        """True when the request asks for functions (checked by calling them)."""
        return bool(self.functions)


# ---------------------------------------------------------------------------------------
# Values


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


def _value(node: ast.AST) -> Any:
    """The value of a literal expression, arithmetic on numbers included; ValueError if not."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id.lower() in _WORD_VALUES:
        return _WORD_VALUES[node.id.lower()]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        items = [_value(e) for e in node.elts]
        kind: type[Any] = {ast.Tuple: tuple, ast.List: list, ast.Set: set}[type(node)]
        return kind(items)
    if isinstance(node, ast.Dict):
        pairs = {}
        for key, item in zip(node.keys, node.values, strict=True):
            if key is None:
                raise ValueError("dict unpacking")
            pairs[_value(key)] = _value(item)
        return pairs
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        operand = _value(node.operand)
        if not isinstance(operand, int | float | complex):
            raise ValueError("unary operator on a non-number")
        return _UNARY[type(node.op)](operand)
    if isinstance(node, ast.BinOp):
        left, right = _value(node.left), _value(node.right)
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
    return _value(tree.body)


def _leading_value(text: str) -> str | None:
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


# ---------------------------------------------------------------------------------------
# Code in the request


def _is_stub(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
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


def _definitions(tree: ast.Module, code: str) -> str:
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
    """`code` without its top-level statements other than definitions (see `_definitions`).

    Code that does not parse is returned unchanged, so running it reports the error.
    """
    tree = _parse(code)
    return code if tree is None else _definitions(tree, code)


def _raw_docstring(code: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
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


def _request_code(request: str) -> str:
    """The Python in the request: its fenced blocks, or the request when it is code."""
    blocks = code_blocks(request)
    if blocks:
        return extract_code(request)
    try:
        ast.parse(request)
    except (SyntaxError, ValueError):
        return extract_code(request)
    return request


def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


# ---------------------------------------------------------------------------------------
# Examples


def _nesting(text: str) -> list[int]:
    """Bracket depth before each character of `text`, and one past its end; -1 in strings."""
    depths: list[int] = []
    depth, quote, escaped = 0, "", False
    for ch in text:
        depths.append(-1 if quote else depth)
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
    depths.append(-1 if quote else depth)
    return depths


def _call_at(line: str, start: int) -> tuple[str, int] | None:
    """The call `name(...)` starting at `start`, and where it ends (balanced brackets)."""
    opening = line.index("(", start)
    depths = _nesting(line[opening:])
    for offset in range(1, len(depths)):
        if depths[offset] == 0:
            return line[start : opening + offset], opening + offset
    return None


def _plain_call(call: str, names: frozenset[str]) -> bool:
    """Whether `call` calls one of `names` with plain values only."""
    try:
        node = ast.parse(call, mode="eval").body
    except SyntaxError:
        return False
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        return False
    if node.func.id not in names:
        return False
    try:
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            if isinstance(arg, ast.Starred):
                return False
            _value(arg)
    except ValueError:
        return False
    return True


def _inline_examples(lines: list[str], names: frozenset[str]) -> Iterator[Example]:
    """`f(1) == 2`, `f(1) => 2`, `f(1) # returns 2`, `f(1) should return 2`, ..."""
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(names)) + r")\s*\(")
    for number, line in enumerate(lines, 1):
        if ">>>" in line or len(line) > MAX_EXAMPLE_CHARS:
            continue
        for match in pattern.finditer(line):
            found = _call_at(line, match.start())
            if found is None:
                continue
            call, end = found
            separator = _RESULT_SEPARATOR.match(line[end:])
            if separator is None or not _plain_call(call, names):
                continue
            expected = _leading_value(line[end + separator.end() :])
            if expected is not None:
                yield Example(call=call, expected=expected, line=number)


def _arguments(text: str, params: tuple[str, ...]) -> str | None:
    """Call arguments from `x = 1, y = [2]` (or bare values) for a function of `params`."""
    text = text.strip().rstrip(".,;")
    names = [m for m in _ASSIGNMENT.finditer(text) if _assignment_starts(text, m.start())]
    if not names:
        try:
            value = literal(text)
        except ValueError:
            try:
                value = literal(f"({text},)")  # "1, 2" as two positional arguments
            except ValueError:
                return None
            return ", ".join(repr(v) for v in value) if len(value) == len(params) else None
        return repr(value) if len(params) == 1 else None
    values: list[tuple[str, str]] = []
    for i, match in enumerate(names):
        end = names[i + 1].start() if i + 1 < len(names) else len(text)
        raw = text[match.end() : end].strip().rstrip(",").strip()
        raw = re.sub(r"\s+(?:and|e)$", "", raw)
        try:
            values.append((match["name"], repr(literal(raw))))
        except ValueError:
            return None
    if len(values) != len(params):
        return None
    if all(name in params for name, _ in values):
        return ", ".join(f"{name}={value}" for name, value in values)
    return ", ".join(value for _, value in values)  # other names: same order as the signature


def _assignment_starts(text: str, at: int) -> bool:
    """Whether `name =` at `at` starts a new assignment (not inside brackets or quotes)."""
    return _nesting(text)[at] == 0


def _io_examples(lines: list[str], target: FunctionSpec) -> Iterator[Example]:
    """`Input: ...` followed by `Output: ...`, and `For x = 1 the output should be 2`."""
    for number, line in enumerate(lines, 1):
        inline = _FOR_ASSIGNMENTS.search(line)
        if inline:
            args = _arguments(inline["args"], target.params)
            expected = _leading_value(inline["value"])
            if args is not None and expected is not None:
                yield Example(call=f"{target.name}({args})", expected=expected, line=number)
            continue
        given = _INPUT_LINE.match(line)
        if not given:
            continue
        for offset in range(1, INPUT_OUTPUT_GAP + 1):
            if number - 1 + offset >= len(lines):
                break
            result = _OUTPUT_LINE.match(lines[number - 1 + offset])
            if result is None:
                continue
            args = _arguments(given["args"], target.params)
            expected = _leading_value(result["value"])
            if args is not None and expected is not None:
                yield Example(call=f"{target.name}({args})", expected=expected, line=number)
            break


def _doctest_examples(text: str, first_line: int, names: frozenset[str]) -> Iterator[Example | str]:
    """Doctest examples in `text` (a docstring or the request); strings are skip notes."""
    try:
        parsed = doctest.DocTestParser().get_examples(text)
    except ValueError as exc:
        yield f"doctest examples not read: {exc}"
        return
    setup: list[str] = []
    for example in parsed:
        source = example.source.strip()
        want = example.want.strip()
        if not want:
            setup.append(source)
            continue
        if not any(re.search(rf"\b{re.escape(n)}\b", source) for n in names):
            continue
        line = first_line + example.lineno + 1
        try:
            expected, as_text = repr(literal(want)), False
        except ValueError:
            expected, as_text = want, True
        yield Example(
            call=source, expected=expected, line=line, setup=tuple(setup), as_text=as_text
        )


def _docstring_line(request: str, docstring: str) -> int:
    """The request line where `docstring`'s text starts (0 when not found verbatim)."""
    first = next((ln.strip() for ln in docstring.splitlines() if ln.strip()), "")
    if not first:
        return 0
    for number, line in enumerate(request.splitlines(), 1):
        if first in line:
            return number - 1
    return 0


# ---------------------------------------------------------------------------------------
# The spec


def read_spec(request: str) -> Spec:
    """What `request` specifies: functions to implement, definitions, examples."""
    code = _request_code(request)
    tree = _parse(code) if code else None
    if tree is None:
        return Spec(code="", source=code)
    functions = tuple(
        FunctionSpec(
            name=node.name,
            params=tuple(a.arg for a in [*node.args.posonlyargs, *node.args.args]),
            stub=_is_stub(node),
            docstring=_raw_docstring(code, node),
        )
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    )
    spec = Spec(code=_definitions(tree, code), functions=functions, source=code.strip("\n"))
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
        base = _docstring_line(request, target.docstring)
        for item in _doctest_examples(target.docstring, base, names):
            if isinstance(item, str):
                notes.append(item)
            else:
                keep(item)
    if not examples:  # doctests outside docstrings (in the prose around the code)
        for item in _doctest_examples(_outside_code(request), 0, names):
            if isinstance(item, Example):
                keep(item)
    for found in _inline_examples(lines, names):
        keep(found)
    if len(spec.targets) == 1:
        for found in _io_examples(lines, spec.targets[0]):
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
