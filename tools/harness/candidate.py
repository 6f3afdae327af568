"""The candidate's process: it loads the candidate and answers the checker's calls.

Started by the checker (`tools.harness.checker`) as `python -I -u -X utf8 -c SOURCE`, with
its standard input and output as the two ends of the conversation; standard library only.
It loads the request's definitions, then the candidate (as a module named `solution`, so
its `if __name__ == "__main__":` block stays quiet), says which asked-for functions are
missing, then, per request, runs the example's setup and call and replies with what came
out: the value in plain data (`encode`), the text it printed, or what it raised.

Nothing here is trusted: this process belongs to the candidate, which may rewrite any of
it. It is sent no expected value and judges nothing: whatever it replies is compared by
the checker. What the candidate prints outside a call goes to the run's stderr.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import traceback
from typing import Any, BinaryIO

# How much of a value's repr, and of printed text, a reply carries.
MAX_SHOWN_CHARS = 300
MAX_TEXT_CHARS = 64 * 1024
# Deepest nesting of lists, tuples, sets and dicts a value may have to be compared.
MAX_DEPTH = 100
# Where the candidate's own files are said to be, in its tracebacks.
SOLUTION_FILE = "solution.py"
REQUEST_FILE = "request.py"


def encode(value: Any, depth: int = 0) -> list[Any]:
    """`value` as plain, tagged JSON data: what the checker compares with the expected value.

    Subclasses of the built-in types count as those types (an IntEnum is an int, a
    namedtuple a tuple), numbers that say they are integers (`__index__`) as int, and
    objects with `tolist` (NumPy's arrays and scalars) as what it returns. Anything else
    is opaque: equal to no expected value, whatever its `__eq__` says.

    Raises:
        ValueError: The value nests deeper than MAX_DEPTH.
    """
    if depth > MAX_DEPTH:
        raise ValueError("nested too deep to compare")
    inner = depth + 1
    if value is None:
        return ["none"]
    if isinstance(value, bool):
        return ["bool", bool(value)]
    if isinstance(value, int):
        return ["int", format(int(value), "x")]  # hex: no limit on the digits, unlike decimal
    if isinstance(value, float):
        return ["float", float(value).hex()]
    if isinstance(value, complex):
        return ["complex", value.real.hex(), value.imag.hex()]
    if isinstance(value, str):
        return ["str", str(value)]
    if isinstance(value, bytes | bytearray):
        return ["bytes", bytes(value).hex()]
    if isinstance(value, dict):
        return ["dict", [[encode(k, inner), encode(v, inner)] for k, v in value.items()]]
    for kind in (list, tuple, set, frozenset):
        if isinstance(value, kind):
            return [kind.__name__, [encode(item, inner) for item in value]]
    if callable(getattr(value, "tolist", None)):
        return encode(value.tolist(), inner)
    if hasattr(type(value), "__index__"):
        return ["int", format(value.__index__(), "x")]
    return ["opaque"]


def _shown(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + " ..."


def _repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception as error:
        return f"<repr failed: {type(error).__name__}>"


def _where(error: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == SOLUTION_FILE]
    return f" ({SOLUTION_FILE}, line {frames[-1].lineno}: {frames[-1].line})" if frames else ""


def answer(request: dict[str, Any], namespace: dict[str, Any]) -> dict[str, Any]:
    """Run one example's setup and call in `namespace`; what came out, as a reply."""
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            for statement in request["setup"]:
                exec(statement, namespace)
            actual = eval(request["call"], namespace)
    except Exception as error:
        return {"raised": _shown(f"{type(error).__name__}: {error}") + _where(error)}
    if request["as_text"]:
        output = printed.getvalue()[:MAX_TEXT_CHARS]
        if actual is None:
            return {"texts": [output], "shown": _shown(_repr(output))}
        text = _repr(actual)
        try:
            plain = str(actual)
        except Exception:
            plain = text
        return {"texts": [text[:MAX_TEXT_CHARS], plain[:MAX_TEXT_CHARS]], "shown": _shown(text)}
    try:
        value = encode(actual)
    except Exception:  # too deep, or a `tolist` or `__index__` that fails
        value = ["opaque"]
    return {"value": value, "shown": _shown(_repr(actual))}


def _load(message: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The candidate's namespace, and the asked-for functions it leaves undefined.

    The request's definitions run first, then the candidate's code. An error in either
    is printed as the interpreter would, without our frames, and ends this process with
    status 1.
    """
    namespace: dict[str, Any] = {"__name__": "solution", "__builtins__": __builtins__}
    targets: list[str] = message["targets"]
    try:
        exec(compile(message["definitions"], REQUEST_FILE, "exec"), namespace)
        stubs = {name: namespace.get(name) for name in targets}
        exec(compile(message["source"], SOLUTION_FILE, "exec"), namespace)
    except Exception as error:
        tb = error.__traceback__.tb_next if error.__traceback__ else None
        traceback.print_exception(type(error), error, tb)
        sys.stderr.flush()
        os._exit(1)
    missing = [
        name
        for name in targets
        if not callable(namespace.get(name)) or namespace.get(name) is stubs[name]
    ]
    return namespace, missing


def _send(replies: BinaryIO, message: dict[str, Any]) -> None:
    replies.write(json.dumps(message).encode() + b"\n")
    replies.flush()


def main() -> None:
    """Load the candidate, then answer requests until the checker closes the conversation."""
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    # The candidate reads no input, and what it prints goes to the run's stderr, never
    # into the replies.
    with open(os.devnull, "rb") as nothing:
        os.dup2(nothing.fileno(), 0)
    os.dup2(2, 1)
    sys.argv = [SOLUTION_FILE]
    namespace, missing = _load(json.loads(requests.readline()))
    _send(replies, {"missing": missing})
    for line in requests:
        _send(replies, answer(json.loads(line), namespace))
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)
