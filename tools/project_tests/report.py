"""A project's test run as a `TestReport`, read from the sandbox's output (pure: no I/O).

The runner's report line (`tools.project_tests.runner`) carries the plugin's outcome
lines; `outcomes_from_events` turns them into passed and failed test ids (pytest node
ids). A command that is not pytest itself (a Makefile running pytest, say) leaves no
outcome lines; its output's short test summary (`-rA` / `-rfE`) is read instead
(`outcomes_from_summary`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from tools.project_tests.runner import REPORT_MARKER
from tools.sandbox import ExecutionResult

# The exit code reported when the tests never ran to an exit (the sandbox failed).
NO_EXIT_CODE = -1
# What a failed run shows of the sandbox's own stderr.
MAX_ERROR_CHARS = 2_000
SUMMARY_HEADER = "short test summary info"
PASSING_WORDS = ("PASSED", "XPASS")
FAILING_WORDS = ("FAILED", "ERROR")


@dataclass(frozen=True)
class TestReport:
    """One run of a project's tests in the sandbox."""

    __test__: ClassVar[bool] = False  # not a test class, whatever pytest thinks of the name

    command: tuple[str, ...]
    """The command as the user would type it (`python` is the sandbox's interpreter)."""
    exit_code: int
    """The command's exit status (negative: the signal that ended it)."""
    passed: frozenset[str]
    """Test ids (pytest node ids) that passed."""
    failed: frozenset[str]
    """Test ids that failed or errored, files that failed to collect, tests that hung."""
    output: str
    """The end of the command's output (stdout and stderr together), capped."""
    timed_out: bool
    error: str | None = None
    """Why the tests could not be run at all (a sandbox failure); None when they ran."""

    @property
    def ok(self) -> bool:
        """Exit status 0, nothing failed, in time, and the tests really ran."""
        return self.exit_code == 0 and not self.failed and not self.timed_out and not self.error


def outcomes_from_events(events: Iterable[Sequence[str]]) -> tuple[frozenset[str], frozenset[str]]:
    """Passed and failed ids from the plugin's `[kind, node id]` lines.

    A test that failed in any phase failed; one that started and never finished hung or
    killed its process, and failed too.
    """
    started: set[str] = set()
    finished: set[str] = set()
    passed: set[str] = set()
    failed: set[str] = set()
    for kind, nodeid in events:
        if kind == "start":
            started.add(nodeid)
        elif kind == "finish":
            finished.add(nodeid)
        elif kind == "passed":
            passed.add(nodeid)
        elif kind in ("failed", "error"):
            failed.add(nodeid)
    failed |= started - finished
    return frozenset(passed - failed), frozenset(failed)


def outcomes_from_summary(output: str) -> tuple[frozenset[str], frozenset[str]]:
    """Passed and failed ids from pytest's short test summary in `output`."""
    passed: set[str] = set()
    failed: set[str] = set()
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if SUMMARY_HEADER in line and line.startswith("=")]
    for line in lines[starts[-1] + 1 :] if starts else ():
        word, _, rest = line.partition(" ")
        nodeid = rest.split(" - ", 1)[0].strip()
        if not nodeid:
            continue
        if word in PASSING_WORDS:
            passed.add(nodeid)
        elif word in FAILING_WORDS:
            failed.add(nodeid)
    return frozenset(passed - failed), frozenset(failed)


def read_report_line(stdout: str, nonce: str) -> dict[str, Any] | None:
    """The runner's report (the last line with this run's nonce), or None."""
    tag = f"{REPORT_MARKER} {nonce} "
    for line in reversed(stdout.splitlines()):
        if not line.startswith(tag):
            continue
        try:
            data = json.loads(line[len(tag) :])
        except ValueError:
            return None
        valid = (
            isinstance(data, dict)
            and isinstance(data.get("exit_code"), int)
            and isinstance(data.get("timed_out"), bool)
            and isinstance(data.get("output"), str)
            and isinstance(data.get("outcomes"), list)
        )
        return data if valid else None
    return None


def report_of(result: ExecutionResult, nonce: str, command: tuple[str, ...]) -> TestReport:
    """The report of a sandbox run of the runner."""
    data = read_report_line(result.stdout, nonce)
    if data is None:
        why = result.error or (
            "the sandbox ran out of time before the tests ended" if result.timed_out else ""
        )
        why = why or f"the test runner gave no report: {result.stderr[-MAX_ERROR_CHARS:]}"
        return TestReport(
            command,
            NO_EXIT_CODE if result.exit_code is None else result.exit_code,
            frozenset(),
            frozenset(),
            result.stderr[-MAX_ERROR_CHARS:],
            result.timed_out,
            error=why,
        )
    events = [e for e in data["outcomes"] if isinstance(e, list) and len(e) == 2]
    passed, failed = outcomes_from_events(events)
    if not events:
        passed, failed = outcomes_from_summary(data["output"])
    return TestReport(command, data["exit_code"], passed, failed, data["output"], data["timed_out"])
