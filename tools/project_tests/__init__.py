"""Run a project's own tests on a workspace copy, in the sandbox, and judge a change by them.

`arun_project_tests` sends the copy's files (by `tools.workspace_copy`'s rules) to a
sandbox run (`tools.sandbox.arun_python`, the strongest tier the machine has) on its
standard input; the run's program (`runner`) writes them into its private work dir and
runs the tests there. So the tests work in a read-write directory that is neither the
user's workspace nor the copy, and that dies with the run: a hostile repository's tests
see no home but the run's own, no /root or /home (bwrap builds the filesystem from the
system directories and the interpreter; unshare hides them), cannot reach the network,
and cannot write anything that outlives the run, the copy included. What they can read
is what the tier exposes (under `unshare`, host directories it does not hide stay
readable, never writable; see `tools.isolation`).

The tests run with the sandbox's interpreter, the application's own by default (`python=`
picks another): pytest comes from its environment, whose directories the tiers bind
read-only. Without a command the tests run under pytest with a plugin (`plugin`) that
records every test's outcome as it happens, so even a run killed at its deadline says
which tests passed and which one hung. `judge_fix` and `judge_refactor` (`judge`) decide
from a run before and a run after a change.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import math
import secrets
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path

from tools.isolation import IsolationRequest
from tools.project_tests import plugin
from tools.project_tests.command import DEFAULT_COMMAND, plan_command
from tools.project_tests.judge import Verdict, judge_fix, judge_refactor, passes
from tools.project_tests.report import (
    TestReport,
    outcomes_from_events,
    outcomes_from_summary,
    read_report_line,
    report_of,
)
from tools.sandbox import arun_python
from tools.workspace_copy import WorkspaceCopy
from tools.workspace_files import MIB, tree_files

__all__ = [
    "DEFAULT_COMMAND",
    "DEFAULT_TIMEOUT_S",
    "TestReport",
    "Verdict",
    "arun_project_tests",
    "judge_fix",
    "judge_refactor",
    "outcomes_from_events",
    "outcomes_from_summary",
    "pack",
    "passes",
    "plan_command",
    "read_report_line",
    "runner_program",
]

DEFAULT_TIMEOUT_S = 120.0
# The sandbox's deadline beyond the tests' own: unpacking the files and the report.
RUNNER_MARGIN_S = 15.0
# Limits of a test run (a project's suite needs more than a snippet).
TESTS_MEMORY_MB = 2048
TESTS_MAX_PROCESSES = 128
TESTS_OPEN_FILES = 1024
TESTS_MAX_FILE_MB = 64
# Room in the run's private /tmp besides the project's own files.
TESTS_DISK_MB = 512
# How much of the tests' output (its end) a report keeps.
MAX_OUTPUT_BYTES = 32 * 1024
# The sandbox's cap on the runner's stdout: the report line, outcomes included.
REPORT_MAX_BYTES = 16 * MIB
NONCE_BYTES = 16
COMPRESSION_LEVEL = 6


async def arun_project_tests(
    copy: WorkspaceCopy,
    command: Sequence[str] | None = None,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    isolation: IsolationRequest = "auto",
    python: str | None = None,
) -> TestReport:
    """Run the project's tests on `copy` in the sandbox (see the module docstring).

    Args:
        copy: The workspace copy whose files are tested (not written by the run).
        command: The test command (default: pytest, `DEFAULT_COMMAND`); `python` in it
            means the sandbox's interpreter.
        timeout_s: Deadline of the tests; the tests still running then are failed.
        isolation: The sandbox tier (`auto`: `ORQUESTRA_SANDBOX`, else the strongest).
        python: The interpreter (default: this one); its environment provides pytest.

    Returns:
        The report; a sandbox failure is in its `error`, never raised.
    """
    interpreter = python or sys.executable
    shown, argv = plan_command(command, interpreter)
    nonce = secrets.token_hex(NONCE_BYTES)
    program, stdin, size = await asyncio.to_thread(_request, copy.root, argv, nonce, timeout_s)
    result = await arun_python(
        program,
        stdin=stdin,
        timeout_s=timeout_s + RUNNER_MARGIN_S,
        memory_mb=TESTS_MEMORY_MB,
        max_output_bytes=REPORT_MAX_BYTES,
        max_processes=TESTS_MAX_PROCESSES,
        max_file_mb=TESTS_MAX_FILE_MB,
        open_files=TESTS_OPEN_FILES,
        isolation=isolation,
        network=False,
        python=interpreter,
        warm=False,  # a test run is rare and sized of its own: no spare kept for it
        max_disk_mb=TESTS_DISK_MB + math.ceil(size / MIB),
    )
    return report_of(result, nonce, shown)


def _request(root: Path, argv: Sequence[str], nonce: str, timeout_s: float) -> tuple[str, str, int]:
    """The runner's program, its standard input (header line, files), the files' bytes."""
    bundle, size = pack(root)
    header = {
        "nonce": nonce,
        "argv": list(argv),
        "timeout_s": timeout_s,
        "max_output": MAX_OUTPUT_BYTES,
        "plugin_module": plugin.MODULE_NAME,
        "plugin_source": _source("plugin"),
        "outcomes_var": plugin.OUTCOMES_VAR,
    }
    return runner_program(), json.dumps(header) + "\n" + bundle, size


def pack(root: Path) -> tuple[str, int]:
    """The files under `root` as the runner unpacks them (base64 text), and their bytes.

    A JSON manifest line of `[path, mode, size]`, then the contents back to back,
    compressed. Blocking.
    """
    manifest, contents, total = [], [], 0
    for path, found in tree_files(root):
        manifest.append([path, found.mode, found.size])
        contents.append(found.data)
        total += found.size
    raw = json.dumps(manifest).encode() + b"\n" + b"".join(contents)
    return base64.b64encode(zlib.compress(raw, COMPRESSION_LEVEL)).decode("ascii"), total


def runner_program() -> str:
    """The script the sandbox runs: the runner, called."""
    return _source("runner") + "\n\nmain()\n"


@functools.cache
def _source(module: str) -> str:
    return (Path(__file__).parent / f"{module}.py").read_text(encoding="utf-8")
