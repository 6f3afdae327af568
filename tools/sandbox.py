"""Run model-written Python in a sandbox: isolated interpreter, limits, capped output.

Model-written code is untrusted: it loops, eats memory, forks, floods output, reads
secrets and leaves children behind. `run_python` / `arun_python` run it in a child
`python -I` in a fresh temporary directory with a minimal environment, in its own
session and process group, under rlimits, and with the strongest isolation the machine
offers (see `tools.isolation`). Every outcome, including hostile code, is an
`ExecutionResult`; these functions never raise for anything the code does.

What it does not protect against, honestly: without bubblewrap the host's files are
readable (as the running user); without any namespace tier (Windows, macOS, or Linux
without bwrap/unshare) the code has network access, and a process that double-forks
into a new session and scrubs its environment can outlive the run; as root without a
writable pids cgroup there is no process-count cap beyond the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tools.isolation import IsolationRequest, choose_tier
from tools.launcher import POOL, Config, Launched, launch_async
from tools.limits import Limits
from tools.processes import MARKER_VAR, reap_all, signal_all

__all__ = ["MARKER_VAR", "ExecutionResult", "arun_python", "run_python", "spare_markers"]

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MEMORY_MB = 1024
DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024
DEFAULT_MAX_PROCESSES = 64
DEFAULT_MAX_FILE_MB = 64
DEFAULT_OPEN_FILES = 256
# After SIGTERM on timeout, how long the code gets before SIGKILL.
KILL_GRACE_S = 0.2
# How long to wait for the output pipes to close once every process is gone.
DRAIN_TIMEOUT_S = 1.0
READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ExecutionResult:
    """What happened when the code ran."""

    stdout: str
    stderr: str
    exit_code: int | None
    """The interpreter's exit status; negative is the signal that ended it."""
    timed_out: bool
    duration_s: float
    truncated: bool
    """True when stdout or stderr went past the cap and was cut (with a marker)."""
    isolation: tuple[str, ...]
    """The isolation actually applied, strongest tier first (e.g. `bwrap`, `no-network`)."""
    code: str = ""
    error: str | None = None
    """Why the sandbox itself could not run the code (never the code's own errors)."""
    limits: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the code ran to completion with exit status 0."""
        return self.exit_code == 0 and not self.timed_out and self.error is None

    def summary(self, max_chars: int = 4000) -> str:
        """A compact text for a model: status, stdout and stderr (each cut to `max_chars`)."""
        status = "timed out" if self.timed_out else f"exit code {self.exit_code}"
        if self.error:
            status = f"sandbox error: {self.error}"
        parts = [f"[{status}, {self.duration_s:.2f}s]"]
        if self.stdout:
            parts.append("stdout:\n" + self.stdout[-max_chars:])
        if self.stderr:
            parts.append("stderr:\n" + self.stderr[-max_chars:])
        return "\n".join(parts)


class _Capture:
    """Reads a pipe incrementally, keeping at most `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    async def drain(self, pipe: Any) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=READ_CHUNK)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        try:
            await self._read(reader)
        finally:
            transport.close()

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(READ_CHUNK):
            room = self.limit - len(self.data)
            if room > 0:
                self.data += chunk[:room]
            self.dropped += max(len(chunk) - max(room, 0), 0)

    def text(self) -> str:
        out = self.data.decode("utf-8", errors="replace")
        if self.dropped:
            out += f"\n[... output truncated: {self.dropped} more bytes not shown ...]\n"
        return out


def spare_markers(wait_s: float = 10.0) -> set[str]:
    """Markers (environment value of MARKER_VAR) of idle warm spares, once none is starting."""
    POOL.wait_idle(wait_s)
    return POOL.markers()


def _send(launched: Launched, code: str, stdin: str | None) -> None:
    payload = b"RUN\n" + code.encode("utf-8", errors="replace")
    try:
        view = memoryview(payload)
        while view:
            written = os.write(launched.code_pipe, view)
            view = view[written:]
    except OSError:
        pass  # the process died before reading all of it: reported by its exit status
    finally:
        with contextlib.suppress(OSError):
            os.close(launched.code_pipe)
    if launched.proc.stdin is not None:
        with contextlib.suppress(OSError):
            if stdin:
                launched.proc.stdin.write(stdin.encode("utf-8"))
            launched.proc.stdin.close()


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
) -> ExecutionResult:
    """Run `code` in the sandbox without blocking the event loop.

    Args:
        code: Python source to run as a script (as `main.py`, `__name__ == "__main__"`).
        timeout_s: Wall-clock limit; the whole process tree is killed after it.
        memory_mb: Address-space cap per process.
        max_output_bytes: Cap on each of stdout and stderr (the rest is dropped).
        max_processes: Cap on processes (and threads) the code may have at once.
        max_file_mb: Largest file the code may write.
        open_files: Cap on open file descriptors per process.
        isolation: `auto` (strongest available), or `bwrap`, `unshare`, `process`.
        network: Allow network access (off by default; only namespaces can enforce it).
        stdin: Text fed to the code's standard input.
        python: Interpreter to run (default: the current one).
        warm: Use (and afterwards prepare) a spare process started ahead of time.

    Returns:
        The result; sandbox failures (e.g. a requested tier that is unavailable) are
        reported in `error`, never raised.
    """
    if isinstance(code, bytes):
        code = code.decode("utf-8", errors="replace")
    try:
        # The first call probes bwrap and unshare with subprocesses: not on the loop.
        tier = await asyncio.to_thread(choose_tier, isolation)
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
        ),
        network=network,
        python=python or sys.executable,
    )
    launched = await asyncio.to_thread(POOL.take, config) if warm else None
    if launched is None:
        try:
            launched = await asyncio.wrap_future(launch_async(config))
        except OSError as exc:
            return ExecutionResult(
                "", "", None, False, 0.0, False, (), code, f"could not start {config.python}: {exc}"
            )
    try:
        result = await _execute(launched, code, stdin, timeout_s, max_output_bytes)
    finally:
        if warm:
            POOL.refill(config)
    return result


async def _execute(
    launched: Launched, code: str, stdin: str | None, timeout_s: float, max_output: int
) -> ExecutionResult:
    proc, marker, cgroup = launched.proc, launched.marker, launched.cgroup
    out, err = _Capture(max_output), _Capture(max_output)
    readers = [
        asyncio.ensure_future(out.drain(proc.stdout)),
        asyncio.ensure_future(err.drain(proc.stderr)),
    ]
    timed_out = False
    start = time.perf_counter()
    sender = asyncio.ensure_future(asyncio.to_thread(_send, launched, code, stdin))
    try:
        try:
            await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout_s)
        except TimeoutError:
            timed_out = True
            # The namespace tiers and the cgroup already reach every process cheaply.
            scan = launched.config.tier == "process" and cgroup is None
            await asyncio.to_thread(
                functools.partial(signal_all, scan=scan),
                proc.pid,
                cgroup,
                marker,
                signal.SIGTERM,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.to_thread(proc.wait), KILL_GRACE_S)
    finally:
        duration = time.perf_counter() - start
        await asyncio.to_thread(reap_all, proc.pid, cgroup, marker)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(TimeoutError, subprocess.TimeoutExpired):
            await asyncio.wait_for(
                asyncio.to_thread(proc.wait, DRAIN_TIMEOUT_S), DRAIN_TIMEOUT_S + 0.5
            )
        _, pending = await asyncio.wait([*readers, sender], timeout=DRAIN_TIMEOUT_S)
        for task in pending:
            task.cancel()
        await asyncio.to_thread(launched.release)
    return ExecutionResult(
        stdout=out.text(),
        stderr=err.text(),
        exit_code=proc.returncode,
        timed_out=timed_out,
        duration_s=round(duration, 4),
        truncated=bool(out.dropped or err.dropped),
        isolation=launched.isolation,
        code=code,
        limits={
            "timeout_s": math.ceil(timeout_s),
            "memory_mb": launched.config.limits.memory_mb,
            "max_output_bytes": max_output,
            "max_processes": launched.config.limits.processes,
            "max_file_mb": launched.config.limits.file_mb,
            "open_files": launched.config.limits.open_files,
        },
    )


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
