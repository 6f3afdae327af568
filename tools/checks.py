"""Running model-written code against the request's own checks, in the sandbox.

A run of a function task loads the request's definitions, then the candidate (as a module,
so its `if __name__ == "__main__":` block stays quiet), then calls every example of the
specification and compares the result: values by equality (floats within a small
tolerance, as tests of numeric code do), doctest output by text. A failed check is an
error: the run exits 1 and stderr names the example's line, the call, the expected and the
actual value, which is what the coder needs to fix it. A script task (no function to
implement) must exit 0 and print its result.

Threat model. The candidate is hostile: it may print anything, exit at any moment
(`os._exit(0)`, `sys.exit`, an `atexit` hook), patch any module or builtin, return objects
whose `__eq__` says yes to everything, walk frames and the garbage collector, and read
every file of its run. So it never shares a process with what judges it. The run has two
(`tools.harness`): the checker, the run's own process, and the candidate's process, which
the checker starts and talks to over two pipes. The checker sends the definitions, the
candidate's code and each example's setup and call; the candidate's process replies with
each result as plain data (numbers, strings, bytes, containers of them: never an object
of the candidate's), and the checker compares it with the expected value itself. A
per-run nonce, with the expected values, reaches the checker on its standard input, read
to the end before the candidate's process exists: it is not in the program, on disk, or
in any memory the candidate's process can read (the checker is not dumpable: its memory,
file descriptors and environment in /proc are closed to processes of its uid, its own
children included). The verdict is the checker's last stderr line, which carries the
nonce, and the run's exit status, which only the checker sets; a run is accepted only
with both. A candidate that exits early, or kills or stops the checker, gets no verdict
and is rejected; a tally line it prints lacks the nonce and stays as its own output.

What this does not stop: the examples are in the request, whose definitions (docstrings
included) the candidate's process runs, so a candidate that returns the expected results
for exactly the examples' calls passes those examples, as hardcoding them would. A
candidate that floods stderr past the sandbox's cap can push the verdict out: it is then
rejected, never accepted. Only on Linux does the kernel close the checker's memory to the
candidate's process (elsewhere the sandbox is no boundary between one user's processes).

Nothing of the candidate runs in the application's process.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, replace

from tools.harness import REPORT_MARKER, Call, CheckerConfig, Secret, candidate_source, program
from tools.isolation import IsolationRequest
from tools.sandbox import ExecutionResult, arun_python
from tools.spec import Spec

NO_OUTPUT_ERROR = "The script ran but printed nothing: print the result the request asks for."
# Bytes of randomness in each run's nonce.
NONCE_BYTES = 16


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
    """The run, with the checker's verdict line removed from stderr."""
    tally: CheckTally
    accepted: bool
    """Exit code 0, no timeout, every check passed (function task) or output printed."""
    problem: str = ""
    """Why it is not accepted, for the coder (empty when accepted)."""


def check_program(candidate: str, spec: Spec) -> str:
    """The script that checks `candidate` against `spec`'s examples (no expected value in it)."""
    calls = [
        Call(line=e.line, setup=list(e.setup), call=e.call, as_text=e.as_text)
        for e in spec.examples
    ]
    return program(
        CheckerConfig(
            definitions=spec.code,
            source=candidate,
            targets=[f.name for f in spec.targets],
            calls=calls,
            candidate=candidate_source(),
        )
    )


def check_secret(spec: Spec, nonce: str) -> str:
    """What the checker reads on its standard input: the run's nonce and the expected values."""
    return json.dumps(Secret(nonce=nonce, expected=[e.expected for e in spec.examples]))


def read_tally(stderr: str, spec: Spec, nonce: str) -> tuple[str, CheckTally]:
    """Split the checker's verdict line (the one with this run's nonce) off `stderr`.

    No such line means nothing passed; lines that only look like it are the code's own
    output and stay. Text glued before the verdict on its line stays as a line of its own.
    """
    tag = f"{REPORT_MARKER} {nonce} "
    lines = stderr.splitlines(keepends=True)
    for index in range(len(lines) - 1, -1, -1):
        at = lines[index].find(tag)
        if at < 0:
            continue
        try:
            data = json.loads(lines[index][at + len(tag) :])
            tally = CheckTally(
                int(data["passed"]), int(data["total"]), tuple(str(n) for n in data["missing"])
            )
        except (ValueError, KeyError, TypeError):
            break
        before = [lines[index][:at] + "\n"] if at else []
        return "".join(lines[:index] + before + lines[index + 1 :]), tally
    return stderr, CheckTally(0, len(spec.examples))


def judge(result: ExecutionResult, spec: Spec, nonce: str) -> CheckedRun:
    """Accept or reject a finished run, and say why for the coder."""
    if spec.is_function_task:
        stderr, tally = read_tally(result.stderr, spec, nonce)
        shown = replace(result, stderr=stderr)
        accepted = result.ok and tally.all_passed and tally.total == len(spec.examples)
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
    nonce = secrets.token_hex(NONCE_BYTES)
    if spec.is_function_task:
        program_text, stdin = check_program(candidate, spec), check_secret(spec, nonce)
    else:
        program_text, stdin = candidate, None
    result = await arun_python(program_text, timeout_s=timeout_s, isolation=isolation, stdin=stdin)
    return judge(replace(result, code=candidate), spec, nonce)
