"""The checker: the checked run's own process, which calls the candidate and judges it.

The sandbox runs this module as the run's code (`tools.harness.program`); standard
library only. It makes its memory unreadable to other processes, reads its secret from
standard input (the run's nonce and the expected values; the pipe is empty once read),
starts the candidate's process (`tools.harness.candidate`), sends it the request's
definitions and the candidate's code, then each example's setup and call, and compares
each reply with the expected value here, where no code of the candidate ever runs. Then
it prints the failures, the count, and last the verdict line (REPORT_MARKER, the nonce,
the tally as JSON). It exits 0 only when every check passed.
"""

from __future__ import annotations

import ast
import contextlib
import ctypes
import json
import math
import os
import subprocess
import sys
from typing import IO, Any, TypedDict

# The verdict line's first word; the nonce and the tally follow.
REPORT_MARKER = "[orquestra-checks]"
# Floats compare within these tolerances, as tests of numeric code do.
REL_TOL = 1e-6
ABS_TOL = 1e-9
# The longest reply read from the candidate's process (a longer one ends the checks).
MAX_REPLY_BYTES = 8 * 1024 * 1024
# Deepest nesting accepted in a reply's value.
MAX_DEPTH = 100
# Once the checks are done, how long the candidate's process may take to end before a kill.
CANDIDATE_EXIT_S = 1.0
# How the candidate's process runs: as isolated, unbuffered and UTF-8 as the sandbox's code.
INTERPRETER_FLAGS = ("-I", "-u", "-X", "utf8")
PR_SET_DUMPABLE = 4
MISSING_ERROR = "The code does not define {names}, which the request asks for."
ENDED_ERROR = "The code's process ended (exit status {status}) {when}."
SILENT_ERROR = "The code's process stopped answering {when}."
EXITED_HINT = " A solution defines what the request asks for; it does not exit."


class Call(TypedDict):
    """One example, as the candidate's process gets it (never with its expected value)."""

    line: int
    setup: list[str]
    call: str
    as_text: bool


class CheckerConfig(TypedDict):
    """What the checker's program holds: nothing the candidate may not see."""

    definitions: str
    source: str
    targets: list[str]
    calls: list[Call]
    candidate: str
    """The source the candidate's process runs (`tools.harness.candidate`)."""


class Secret(TypedDict):
    """What the checker reads from standard input: never in the program, never on disk."""

    nonce: str
    expected: list[str]


class _Opaque:
    """A value the candidate's process could not express as plain data: equal to nothing."""

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__


def _items(payload: Any, depth: int) -> list[Any]:
    if not isinstance(payload, list):
        raise ValueError("not a list")
    return [decode(item, depth + 1) for item in payload]


def decode(node: Any, depth: int = 0) -> Any:
    """The plain value that `tools.harness.candidate.encode` wrote, built from data only.

    Raises:
        ValueError: `node` is not what `encode` writes.
    """
    if depth > MAX_DEPTH or not isinstance(node, list) or not node:
        raise ValueError("not an encoded value")
    tag, args = node[0], node[1:]
    if tag == "none" and not args:
        return None
    if tag == "opaque" and not args:
        return _Opaque()
    if len(args) == 1 and tag == "bool" and isinstance(args[0], bool):
        return args[0]
    if tag == "complex" and len(args) == 2 and all(isinstance(a, str) for a in args):
        return complex(float.fromhex(args[0]), float.fromhex(args[1]))
    if len(args) != 1:
        raise ValueError("not an encoded value")
    payload = args[0]
    if isinstance(payload, str):
        if tag == "int":
            return int(payload, 16)
        if tag == "float":
            return float.fromhex(payload)
        if tag == "str":
            return payload
        if tag == "bytes":
            return bytes.fromhex(payload)
    elif tag == "list":
        return _items(payload, depth)
    elif tag == "tuple":
        return tuple(_items(payload, depth))
    elif tag == "set":
        return set(_items(payload, depth))
    elif tag == "frozenset":
        return frozenset(_items(payload, depth))
    elif tag == "dict":
        if not isinstance(payload, list) or not all(
            isinstance(pair, list) and len(pair) == 2 for pair in payload
        ):
            raise ValueError("not an encoded dict")
        return {decode(k, depth + 1): decode(v, depth + 1) for k, v in payload}
    raise ValueError(f"not an encoded value: {tag!r}")


def same(actual: Any, expected: Any) -> bool:
    """Whether a plain `actual` value matches `expected`: floats within the tolerance."""
    if isinstance(expected, float) or isinstance(actual, float):
        if isinstance(actual, bool) or isinstance(expected, bool):
            return bool(actual == expected)
        if isinstance(actual, int | float) and isinstance(expected, int | float):
            return math.isclose(actual, expected, rel_tol=REL_TOL, abs_tol=ABS_TOL)
        return False
    if isinstance(expected, list | tuple) and type(actual) is type(expected):
        return len(actual) == len(expected) and all(
            same(a, e) for a, e in zip(actual, expected, strict=True)
        )
    if isinstance(expected, dict) and isinstance(actual, dict):
        return actual.keys() == expected.keys() and all(
            same(actual[k], expected[k]) for k in expected
        )
    return bool(actual == expected)


def _words(text: str) -> str:
    return " ".join(text.split())


def failure(call: Call, expected: str, reply: dict[str, Any]) -> str | None:
    """Why the reply to `call` fails its check (None when it passes).

    Raises:
        ValueError: The reply is not one the candidate's process writes.
        TypeError: Its value holds what no plain value holds (a list in a set).
        RecursionError: Its value nests too deep to compare.
    """
    where = f"line {call['line']} of the request" if call["line"] else "a derived case"
    head = f"Check failed ({where}): {call['call']}\n"
    head += f"  expected: {expected}\n"
    raised = reply.get("raised")
    if isinstance(raised, str):
        return head + f"  raised:   {raised}"
    shown = reply.get("shown")
    if not isinstance(shown, str):
        raise ValueError("a reply without what it shows")
    if call["as_text"]:
        texts = reply.get("texts")
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ValueError("a text reply without texts")
        passed = any(_words(text) == _words(expected) for text in texts)
    else:
        passed = same(decode(reply.get("value")), ast.literal_eval(expected))
    return None if passed else head + f"  actual:   {shown}"


def gone(status: int | None, when: str) -> str:
    """What to tell the coder when the candidate's process ended before the checks did."""
    if status is None:
        return SILENT_ERROR.format(when=when)
    return ENDED_ERROR.format(status=status, when=when) + (EXITED_HINT if status == 0 else "")


class CandidateProcess:
    """The candidate's process, and the conversation with it (one reply per message)."""

    def __init__(self, source: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, *INTERPRETER_FLAGS, "-c", source],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def ask(self, message: object) -> dict[str, Any] | None:
        """Its reply to `message`; None once it is gone or replies what it never writes."""
        requests, replies = self.proc.stdin, self.proc.stdout
        if requests is None or replies is None:
            return None
        try:
            requests.write(json.dumps(message).encode() + b"\n")
            requests.flush()
            line = replies.readline(MAX_REPLY_BYTES)
            reply = json.loads(line) if line.endswith(b"\n") else None
        except (OSError, ValueError, RecursionError):
            return None
        return reply if isinstance(reply, dict) else None

    def end(self) -> int | None:
        """Close the conversation; its exit status (negative: a signal; None: killed here)."""
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            return self.proc.wait(CANDIDATE_EXIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def run_checks(
    candidate: CandidateProcess, calls: list[Call], expected: list[str]
) -> tuple[int, list[str], int]:
    """Ask for each call and judge each reply: passed, the failures, the calls answered.

    The checks stop at the first reply the candidate's process does not give or gives
    garbled: every check after it counts as failed.
    """
    passed, answered = 0, 0
    failures: list[str] = []
    for call, want in zip(calls, expected, strict=True):
        reply = candidate.ask(
            {"setup": call["setup"], "call": call["call"], "as_text": call["as_text"]}
        )
        if reply is None:
            break
        try:
            problem = failure(call, want, reply)
        except (ValueError, TypeError, RecursionError):
            break
        answered += 1
        if problem is None:
            passed += 1
        else:
            failures.append(problem)
    return passed, failures, answered


def _memory_kept_private() -> None:
    """No other process may read this one's memory or its files in /proc (not dumpable).

    Raises:
        OSError: The kernel refused (the verdict would then be worth nothing).
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0)")


def _print(stream: IO[str], text: str) -> None:
    stream.write(text + "\n")
    stream.flush()


def main(config: CheckerConfig) -> None:
    """Check the candidate against the examples and report the verdict (see the docstring)."""
    _memory_kept_private()
    secret: Secret = json.loads(sys.stdin.buffer.read())
    calls = config["calls"]
    candidate = CandidateProcess(config["candidate"])
    loaded = candidate.ask(
        {
            "definitions": config["definitions"],
            "source": config["source"],
            "targets": config["targets"],
        }
    )
    missing = loaded.get("missing") if loaded is not None else None
    ran = isinstance(missing, list) and not missing
    passed, answered = 0, 0
    failures: list[str] = []
    if ran:
        passed, failures, answered = run_checks(candidate, calls, secret["expected"])
    status = candidate.end()
    if not isinstance(missing, list):
        failures.append(gone(status, "before the checks ran"))
    elif ran and answered < len(calls):
        failures.append(gone(status, f"while the checks ran ({answered} of {len(calls)} answered)"))
    names = [str(name) for name in missing] if isinstance(missing, list) else []
    for problem in failures:
        _print(sys.stderr, problem)
    if names:
        _print(sys.stderr, MISSING_ERROR.format(names=", ".join(names)))
    if calls and ran:
        _print(sys.stdout, f"{passed} of {len(calls)} checks from the request passed")
    tally = {"passed": passed, "total": len(calls), "missing": names}
    # One write, far below PIPE_BUF: no other writer's bytes can land inside the line.
    os.write(2, f"{REPORT_MARKER} {secret['nonce']} {json.dumps(tally)}\n".encode())
    sys.exit(0 if ran and passed == len(calls) else 1)
