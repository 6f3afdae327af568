"""The pytest plugin that records each test's outcome as it happens, for the runner.

Loaded into the project's own pytest (`-p _orquestra_outcomes`) inside the sandbox; its
source is shipped there by `tools.project_tests.runner`, so it imports only the standard
library. It appends one JSON line per event, `[kind, node id]`, to the file named by
`OUTCOMES_VAR`: `start` and `finish` around each test (a test that started and never
finished hung or killed its process), `passed`, `failed` (any phase: setup, call,
teardown), `skipped`, `xfailed`, and `error` for a file or directory that failed to be
collected. Each line is flushed at once, so a run killed at its deadline still tells
which tests had passed.

The outcomes are pytest's word, from inside the tests' own process: a test that rewrites
pytest's reporting, or writes to this file, can misreport; the sandbox still holds.
"""

from __future__ import annotations

import json
import os
from typing import IO, Any

# The environment variable naming the file the outcomes are appended to.
OUTCOMES_VAR = "ORQUESTRA_TEST_OUTCOMES"
# The name the runner gives this module in the sandbox (for `-p`).
MODULE_NAME = "_orquestra_outcomes"

_stream: list[IO[str]] = []


def _record(kind: str, nodeid: str) -> None:
    if not _stream:
        path = os.environ.get(OUTCOMES_VAR)
        if not path:
            return
        _stream.append(open(path, "a", encoding="utf-8"))  # noqa: SIM115 (open for the run)
    _stream[0].write(json.dumps([kind, nodeid]) + "\n")
    _stream[0].flush()


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    """A test begins."""
    _record("start", nodeid)


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    """A test ended (every phase reported)."""
    _record("finish", nodeid)


def pytest_runtest_logreport(report: Any) -> None:
    """One phase of a test: a failure in any phase fails it; the call's pass passes it."""
    if report.failed:
        _record("failed", report.nodeid)
    elif report.skipped:
        _record("xfailed" if hasattr(report, "wasxfail") else "skipped", report.nodeid)
    elif report.when == "call":
        _record("passed", report.nodeid)


def pytest_collectreport(report: Any) -> None:
    """A file or directory that could not be collected (an import error, a syntax error)."""
    if report.failed:
        _record("error", report.nodeid or ".")
