"""Run model-written Python in a sandbox: isolated interpreter, limits, capped output.

Model-written code is untrusted: it loops, eats memory, forks, floods output, reads
secrets, leaves children behind, and attacks the machine it runs on. `run_python` /
`arun_python` run it with the strongest isolation the machine offers (`tools.isolation`,
chosen by `ORQUESTRA_SANDBOX`), without any privilege (`tools.bootstrap`), with limits
for the whole run (`tools.limits`, `tools.cgroups`, `tools.memory`), in a fresh work dir,
with a minimal environment; every process of a run dies with the run and with the
application. Every outcome, including hostile code, is an `ExecutionResult`; these
functions never raise for anything the code does. The sandbox knows nothing of the
runtime: whoever runs code decides what to do with the result (the graph's nodes count
each run in `orquestra.telemetry`).

What each tier protects, and what it does not, is in the README's sandbox section and in
`ExecutionResult.isolation` of every run. The parts: `result` (`ExecutionResult`),
`pipes` (code in, capped output out), `execution` (one run from its code to its result).
"""

from __future__ import annotations

import asyncio
import math
import sys
import threading
from typing import Any

from tools.isolation import IsolationRequest, choose_tier
from tools.launcher import POOL, Config, launch_async
from tools.limits import Limits
from tools.processes import MARKER_VAR
from tools.sandbox.execution import execute
from tools.sandbox.result import ExecutionResult

__all__ = ["MARKER_VAR", "ExecutionResult", "arun_python", "run_python", "spare_markers"]

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MEMORY_MB = 1024
DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024
DEFAULT_MAX_PROCESSES = 64
DEFAULT_MAX_FILE_MB = 64
DEFAULT_MAX_DISK_MB = 256
DEFAULT_OPEN_FILES = 256


def spare_markers(wait_s: float = 10.0) -> set[str]:
    """Markers (environment value of MARKER_VAR) of idle warm spares, once none is starting."""
    POOL.wait_idle(wait_s)
    return POOL.markers()


async def arun_python(
    code: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    memory_mb: int = DEFAULT_MEMORY_MB,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    max_processes: int = DEFAULT_MAX_PROCESSES,
    max_file_mb: int = DEFAULT_MAX_FILE_MB,
    open_files: int = DEFAULT_OPEN_FILES,
    isolation: IsolationRequest = "auto",
    network: bool = False,
    stdin: str | None = None,
    python: str | None = None,
    warm: bool = True,
    max_disk_mb: int = DEFAULT_MAX_DISK_MB,
) -> ExecutionResult:
    """Run `code` in the sandbox without blocking the event loop.

    Args:
        code: Python source to run as a script (as `main.py`, `__name__ == "__main__"`).
        timeout_s: Wall-clock limit; every process of the run is killed after it.
        memory_mb: Total memory of all the run's processes (and its tmpfs), and the
            address-space cap of each process.
        max_output_bytes: Cap on each of stdout and stderr (the rest is dropped).
        max_processes: Cap on processes (and threads) the code may have at once.
        max_file_mb: Largest file the code may write.
        open_files: Cap on open file descriptors per process.
        isolation: `auto` (the `ORQUESTRA_SANDBOX` setting, else the strongest tier
            available), or exactly `bwrap`, `unshare` or `process`.
        network: Allow network access (off by default).
        stdin: Text fed to the code's standard input.
        python: Interpreter to run (default: the current one).
        warm: Use (and afterwards prepare) a spare process started ahead of time.
        max_disk_mb: Size of the run's private /tmp (its work dir) and of its /dev/shm.

    Returns:
        The result; sandbox failures (e.g. a requested tier that is unavailable) are
        reported in `error`, never raised.
    """
    if isinstance(code, bytes):
        code = code.decode("utf-8", errors="replace")
    interpreter = python or sys.executable
    try:
        # The first call probes bwrap and unshare with subprocesses: not on the loop.
        tier = await asyncio.to_thread(choose_tier, isolation, interpreter)
    except ValueError as exc:
        return ExecutionResult("", "", None, False, 0.0, False, (), code, str(exc))
    config = Config(
        tier=tier,
        limits=Limits(
            cpu_s=math.ceil(timeout_s) + 1,
            memory_mb=memory_mb,
            file_mb=max_file_mb,
            processes=max_processes,
            open_files=open_files,
            disk_mb=max_disk_mb,
        ),
        network=network,
        python=interpreter,
    )
    launched = await asyncio.to_thread(POOL.take, config) if warm else None
    if launched is None:
        try:
            launched = await asyncio.wrap_future(launch_async(config))
        except Exception as exc:  # reported, never raised
            return ExecutionResult(
                "", "", None, False, 0.0, False, (), code, f"could not start the sandbox: {exc}"
            )
    try:
        result = await execute(launched, code, stdin, timeout_s, max_output_bytes)
    finally:
        if warm:
            POOL.refill(config)
    return result


def run_python(
    code: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, **kwargs: Any
) -> ExecutionResult:
    """Run `code` in the sandbox and wait for the result (see `arun_python` for arguments).

    Safe to call from synchronous code, including code running inside an event loop
    (the run then happens on a helper thread with its own loop).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(arun_python(code, timeout_s=timeout_s, **kwargs))
    box: list[ExecutionResult] = []
    worker = threading.Thread(
        target=lambda: box.append(asyncio.run(arun_python(code, timeout_s=timeout_s, **kwargs)))
    )
    worker.start()
    worker.join()
    return box[0]
