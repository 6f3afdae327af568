"""Examples in a request, in the shapes people write them, as calls and expected values.

Doctests, `f(1) == 2` and its many spellings (`=>`, `➞`, `# returns`, `should return`,
in English and Portuguese), `Input:` / `Output:` pairs, and `For x = 1 the output
should be 2`.
"""

from __future__ import annotations

import ast
import doctest
import re
from collections.abc import Iterator

from tools.spec.model import Example, FunctionSpec
from tools.spec.values import MAX_EXAMPLE_CHARS, leading_value, literal, plain_value

# Lines after an "Input:" line within which its "Output:" must come.
INPUT_OUTPUT_GAP = 3
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


def plain_call(call: str, names: frozenset[str]) -> bool:
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
            plain_value(arg)
    except ValueError:
        return False
    return True


def inline_examples(lines: list[str], names: frozenset[str]) -> Iterator[Example]:
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
            if separator is None or not plain_call(call, names):
                continue
            expected = leading_value(line[end + separator.end() :])
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


def io_examples(lines: list[str], target: FunctionSpec) -> Iterator[Example]:
    """`Input: ...` followed by `Output: ...`, and `For x = 1 the output should be 2`."""
    for number, line in enumerate(lines, 1):
        inline = _FOR_ASSIGNMENTS.search(line)
        if inline:
            args = _arguments(inline["args"], target.params)
            expected = leading_value(inline["value"])
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
            expected = leading_value(result["value"])
            if args is not None and expected is not None:
                yield Example(call=f"{target.name}({args})", expected=expected, line=number)
            break


def doctest_examples(text: str, first_line: int, names: frozenset[str]) -> Iterator[Example | str]:
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


def docstring_line(request: str, docstring: str) -> int:
    """The request line where `docstring`'s text starts (0 when not found verbatim)."""
    first = next((ln.strip() for ln in docstring.splitlines() if ln.strip()), "")
    if not first:
        return 0
    for number, line in enumerate(request.splitlines(), 1):
        if first in line:
            return number - 1
    return 0
