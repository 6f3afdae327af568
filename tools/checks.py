"""Running model-written code against the request's own checks, in the sandbox.

A run of a function task loads the request's definitions, then the candidate (as a module,
so its `if __name__ == "__main__":` block stays quiet), then calls every example of the
specification and compares the result: values by equality (floats within a small
tolerance, as tests of numeric code do), doctest output by text. A failed check is an
error: the run exits 1 and stderr names the example's line, the call, the expected and the
actual value, which is what the coder needs to fix it. A script task (no function to
implement) must exit 0 and print its result.

The harness and the candidate run together in one sandboxed process; nothing of the
candidate runs in this process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from tools.isolation import IsolationRequest
from tools.sandbox import ExecutionResult, arun_python
from tools.spec import Spec

# The harness's last stderr line: the machine-readable tally (stripped from what is shown).
REPORT_MARKER = "[orquestra-checks]"
# How much of an actual value a failure message shows.
MAX_SHOWN_VALUE_CHARS = 300
NO_OUTPUT_ERROR = "The script ran but printed nothing: print the result the request asks for."
MISSING_ERROR = "The code does not define {names}, which the request asks for."

# Runs in the sandbox after the header that defines _DEFINITIONS, _SOURCE, _CASES, _TARGETS.
_HARNESS = r"""
import ast as _ast, contextlib as _contextlib, io as _io, json as _json, math as _math
import sys as _sys, traceback as _traceback

def _same(actual, expected):
    if isinstance(expected, float) or isinstance(actual, float):
        if isinstance(actual, bool) or isinstance(expected, bool):
            return actual == expected
        if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
            return _math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-9)
        return False
    if isinstance(expected, (list, tuple)) and type(actual) is type(expected):
        return len(actual) == len(expected) and all(
            _same(a, e) for a, e in zip(actual, expected))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return actual.keys() == expected.keys() and all(
            _same(actual[k], expected[k]) for k in expected)
    try:
        return bool(actual == expected)
    except Exception:
        return False

def _text(value):
    return " ".join(str(value).split())

def _shown(value):
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + " ..."

def _where(exc):
    frames = [f for f in _traceback.extract_tb(exc.__traceback__) if f.filename == "solution.py"]
    return f" (solution.py, line {frames[-1].lineno}: {frames[-1].line})" if frames else ""

_ns = {"__name__": "solution", "__builtins__": __builtins__}
exec(compile(_DEFINITIONS, "request.py", "exec"), _ns)
_stubs = {name: _ns.get(name) for name in _TARGETS}
exec(compile(_SOURCE, "solution.py", "exec"), _ns)
_missing = [
    name for name in _TARGETS if not callable(_ns.get(name)) or _ns.get(name) is _stubs[name]
]
_passed = 0
_failures = []
if not _missing:
    for _line, _setup, _call, _expected, _as_text in _CASES:
        _out = _io.StringIO()
        try:
            with _contextlib.redirect_stdout(_out):
                for _statement in _setup:
                    exec(_statement, _ns)
                _actual = eval(_call, _ns)
        except Exception as _exc:
            _failures.append(
                f"Check failed (line {_line} of the request): {_call}\n"
                f"  expected: {_expected}\n"
                f"  raised:   {type(_exc).__name__}: {_exc}{_where(_exc)}")
            continue
        if _as_text:
            _shown_text = _out.getvalue() if _actual is None else repr(_actual)
            _ok = _text(_shown_text) == _text(_expected) or (
                _actual is not None and _text(_actual) == _text(_expected))
        else:
            _ok = _same(_actual, _ast.literal_eval(_expected))
        if _ok:
            _passed += 1
        else:
            _failures.append(
                f"Check failed (line {_line} of the request): {_call}\n"
                f"  expected: {_expected}\n"
                f"  actual:   {_shown(_actual)}")
for _failure in _failures:
    print(_failure, file=_sys.stderr)
if _missing:
    print(_MISSING.format(names=", ".join(_missing)), file=_sys.stderr)
if _CASES and not _missing:
    print(f"{_passed} of {len(_CASES)} checks from the request passed")
print(_MARKER + " " + _json.dumps(
    {"passed": _passed, "total": len(_CASES), "missing": _missing}), file=_sys.stderr)
_sys.exit(1 if _failures or _missing else 0)
"""


@dataclass(frozen=True)
class CheckTally:
    """How a candidate did against the request's checks."""

    passed: int
    total: int
    missing: tuple[str, ...] = ()

    @property
    def all_passed(self) -> bool:
        """Every check passed and every asked-for function exists."""
        return self.passed == self.total and not self.missing


@dataclass(frozen=True)
class CheckedRun:
    """A candidate's sandboxed run against the checks."""

    result: ExecutionResult
    """The run, with the harness's tally line removed from stderr."""
    tally: CheckTally
    accepted: bool
    """Exit code 0, no timeout, every check passed (function task) or output printed."""
    problem: str = ""
    """Why it is not accepted, for the coder (empty when accepted)."""


def check_program(candidate: str, spec: Spec) -> str:
    """The script that loads `spec`'s definitions and `candidate`, then runs the checks."""
    cases = [(e.line, list(e.setup), e.call, e.expected, e.as_text) for e in spec.examples]
    header = "\n".join(
        (
            f"_DEFINITIONS = {spec.code!r}",
            f"_SOURCE = {candidate!r}",
            f"_CASES = {cases!r}",
            f"_TARGETS = {[f.name for f in spec.targets]!r}",
            f"_MARKER = {REPORT_MARKER!r}",
            f"_MISSING = {MISSING_ERROR!r}",
            f"_MAX_SHOWN = {MAX_SHOWN_VALUE_CHARS!r}",
        )
    )
    return header + "\n" + _HARNESS


def read_tally(stderr: str, spec: Spec) -> tuple[str, CheckTally]:
    """Split the harness's tally line off `stderr`; no line means nothing passed."""
    lines = stderr.splitlines(keepends=True)
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith(REPORT_MARKER):
            try:
                data = json.loads(lines[index][len(REPORT_MARKER) :])
                tally = CheckTally(
                    int(data["passed"]), int(data["total"]), tuple(data.get("missing", ()))
                )
            except (ValueError, KeyError, TypeError):
                break
            return "".join(lines[:index] + lines[index + 1 :]), tally
    return stderr, CheckTally(0, len(spec.examples))


def judge(result: ExecutionResult, spec: Spec) -> CheckedRun:
    """Accept or reject a finished run, and say why for the coder."""
    if spec.is_function_task:
        stderr, tally = read_tally(result.stderr, spec)
        shown = replace(result, stderr=stderr)
        accepted = result.ok and tally.all_passed
        problem = "" if accepted else _problem(shown)
        return CheckedRun(shown, tally, accepted, problem)
    printed = bool(result.stdout.strip())
    accepted = result.ok and printed
    problem = "" if accepted else (_problem(result) if not result.ok else NO_OUTPUT_ERROR)
    return CheckedRun(result, CheckTally(int(accepted), 1), accepted, problem)


def _problem(result: ExecutionResult) -> str:
    if result.error:
        return f"sandbox error: {result.error}"
    if result.timed_out:
        return "The run timed out (an endless loop, or far too slow for the inputs)."
    return result.stderr.strip() or f"The run exited with code {result.exit_code}."


async def arun_checked(
    candidate: str, spec: Spec, *, timeout_s: float, isolation: IsolationRequest = "auto"
) -> CheckedRun:
    """Run `candidate` in the sandbox, against `spec`'s checks when it names functions."""
    program = check_program(candidate, spec) if spec.is_function_task else candidate
    result = await arun_python(program, timeout_s=timeout_s, isolation=isolation)
    return judge(replace(result, code=candidate), spec)
