"""Run model-written Python in a sandbox: isolated interpreter, limits, capped output.

Model-written code is untrusted: it loops, eats memory, forks, floods output, reads
secrets, leaves children behind, and attacks the machine it runs on. `run_python` /
`arun_python` run it with the strongest isolation the machine offers (`tools.isolation`,
chosen by `ORQUESTRA_SANDBOX`), without any privilege (`tools.bootstrap`), with limits
for the whole run (`tools.limits`, `tools.cgroups`, `tools.memory`), in a fresh work dir,
with a minimal environment; every process of a run dies with the run and with the
application. Every outcome, including hostile code, is an `ExecutionResult`; these
functions never raise for anything the code does.

What each tier protects, and what it does not, is in the README's sandbox section and in
`ExecutionResult.isolation` of every run.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tools.isolation import IsolationRequest, choose_tier
from tools.launcher import (
    BOOTSTRAP_FAILED,
    CONFINE_FAILED,
    POOL,
    Config,
    Launched,
    launch_async,
)
from tools.limits import MB, Limits
from tools.memory import POLL_S, MemoryWatch
from tools.processes import MARKER_VAR

__all__ = ["MARKER_VAR", "ExecutionResult", "arun_python", "run_python", "spare_markers"]

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MEMORY_MB = 1024
DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024
DEFAULT_MAX_PROCESSES = 64
DEFAULT_MAX_FILE_MB = 64
DEFAULT_MAX_DISK_MB = 256
DEFAULT_OPEN_FILES = 256
# How long to wait for the run's processes to be gone after killing them.
EXIT_WAIT_S = 0.5
# How long to wait for the output pipes to close once the run has ended.
DRAIN_TIMEOUT_S = 0.5
READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ExecutionResult:
    """What happened when the code ran."""

    stdout: str
    stderr: str
    exit_code: int | None
    """The code's exit status; negative is the signal that ended it (-9 after a kill)."""
    timed_out: bool
    duration_s: float
    truncated: bool
    """True when stdout or stderr went past the cap and was cut (with a marker)."""
    isolation: tuple[str, ...]
    """The isolation actually applied: the tier first, then each protection in force."""
    code: str = ""
    error: str | None = None
    """Why the sandbox itself could not run the code (never the code's own errors)."""
    limits: dict[str, int] = field(default_factory=dict)
    limit_exceeded: str | None = None
    """`memory` when the run was killed for its total memory (all processes together)."""

    @property
    def ok(self) -> bool:
        """True when the code ran to completion with exit status 0."""
        return self.exit_code == 0 and not self.timed_out and self.error is None

    def summary(self, max_chars: int = 4000) -> str:
        """A compact text for a model: status, stdout and stderr (each cut to `max_chars`)."""
        status = "timed out" if self.timed_out else f"exit code {self.exit_code}"
        if self.limit_exceeded:
            status += f", killed: {self.limit_exceeded} limit exceeded"
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
        result = await _execute(launched, code, stdin, timeout_s, max_output_bytes)
    finally:
        if warm:
            POOL.refill(config)
    return result


class _Run:
    """One run in progress: waits for its end, watches its memory, kills it."""

    def __init__(self, launched: Launched) -> None:
        self.launched = launched
        self.limit_exceeded: str | None = None
        self.failure: str | None = None
        """An exception in the sandbox's own helpers (watchdog, readers, sender)."""
        self.killing: asyncio.Future[None] | None = None
        self.ended = asyncio.get_running_loop().create_future()

    def watch_exit(self) -> None:
        """Resolve `ended` when the started process exits (pidfd, or a waiting thread)."""
        loop = asyncio.get_running_loop()
        pidfd = self.launched.pidfd
        if pidfd is not None:

            def exited() -> None:
                loop.remove_reader(pidfd)
                if not self.ended.done():
                    self.ended.set_result(None)

            loop.add_reader(pidfd, exited)
            return

        async def wait() -> None:
            await asyncio.to_thread(self.launched.proc.wait)
            if not self.ended.done():
                self.ended.set_result(None)

        self._waiter = asyncio.ensure_future(wait())

    async def watch_memory(self, limit_bytes: int) -> None:
        """Kill the run once all its processes together pass `limit_bytes`."""
        # Both ways of measuring read /proc or cgroup files: never on the event loop.
        check = await asyncio.to_thread(_memory_check, self.launched, limit_bytes)
        if check is None:
            return
        while not self.ended.done():
            await asyncio.sleep(POLL_S)
            exceeded = await asyncio.to_thread(check)
            if exceeded and not self.ended.done():
                self.limit_exceeded = "memory"
                await self.kill()
                return

    @property
    def killed(self) -> bool:
        """Whether the sandbox killed the run (timeout, memory, cancellation)."""
        return self.killing is not None

    async def kill(self) -> None:
        """Kill every process of the run (once; a cancelled caller does not stop it)."""
        if self.killing is None:
            self.killing = asyncio.ensure_future(asyncio.to_thread(self.launched.kill))
        await asyncio.shield(self.killing)

    def stop_watching(self) -> None:
        """Forget the pidfd reader (idempotent)."""
        if self.launched.pidfd is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(self.launched.pidfd)


async def _execute(
    launched: Launched, code: str, stdin: str | None, timeout_s: float, max_output: int
) -> ExecutionResult:
    proc = launched.proc
    out, err = _Capture(max_output), _Capture(max_output)
    readers = [
        asyncio.ensure_future(out.drain(proc.stdout)),
        asyncio.ensure_future(err.drain(proc.stderr)),
    ]
    run = _Run(launched)
    run.watch_exit()
    timed_out = False
    start = time.perf_counter()
    sender = asyncio.ensure_future(asyncio.to_thread(_send, launched, code, stdin))
    watcher = asyncio.ensure_future(run.watch_memory(launched.config.limits.memory_mb * MB))
    try:
        try:
            await asyncio.wait_for(asyncio.shield(run.ended), timeout_s)
        except TimeoutError:
            timed_out = run.limit_exceeded is None
            await run.kill()
    finally:
        duration = time.perf_counter() - start
        watcher.cancel()
        if not run.ended.done() or run.killing is not None:  # cancelled, or being killed
            await run.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(run.ended), EXIT_WAIT_S)
        run.stop_watching()
        if await asyncio.to_thread(_settle, launched) and run.limit_exceeded is None:
            run.limit_exceeded = "memory"  # the kernel's OOM kill ended it before a poll
        helpers = [watcher, *readers, sender]
        _, pending = await asyncio.wait(helpers, timeout=DRAIN_TIMEOUT_S)
        for task in pending:
            task.cancel()
        run.failure = _helper_failure(helpers)
        await asyncio.to_thread(_close, launched)
    return _result(launched, run, out, err, code, timed_out, duration, timeout_s, max_output)


def _helper_failure(tasks: Sequence[asyncio.Future[Any]]) -> str | None:
    """What went wrong in the sandbox's own helpers (a bug of ours, never the code's doing).

    Reported in `ExecutionResult.error` rather than lost: a failed memory watchdog means
    the run had no memory limit, a failed reader that its output is incomplete.
    """
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            return f"sandbox failure: {task.exception()!r}"
    return None


def _memory_check(launched: Launched, limit_bytes: int) -> Callable[[], bool] | None:
    """Whether the run passed its total memory: the cgroup's word, else the watchdog's.

    None where neither can tell (no memory cgroup, not Linux). Blocking: call in a thread.
    """
    cgroup = launched.cgroup
    if cgroup is not None and (cgroup.memory_v1 is not None or cgroup.memory_v2 is not None):
        return cgroup.memory_exceeded
    if not sys.platform.startswith("linux"):
        return None
    tmpfs = () if launched.config.tier == "process" else ("/tmp", "/dev/shm")
    watch = MemoryWatch(launched.proc.pid, tmpfs)
    return lambda: watch.total_bytes() > limit_bytes


def _settle(launched: Launched) -> bool:
    """Reap the ended process, kill whatever of the run is left (blocking: in a thread).

    Returns whether the run's memory cgroup saw an OOM kill.
    """
    launched.proc.poll()  # reaps it once it has exited (its pidfd keeps it identifiable)
    cgroup = launched.cgroup
    if cgroup is None:
        return False
    oom = cgroup.memory_exceeded()
    cgroup.kill()  # nothing of the run outlives it, whatever it did
    return oom


def _close(launched: Launched) -> None:
    """Read the bootstrap's last reports, then free the run's pipes, dirs and cgroup."""
    launched.status_lines()  # read before the pipe is closed
    launched.release()


def _result(
    launched: Launched,
    run: _Run,
    out: _Capture,
    err: _Capture,
    code: str,
    timed_out: bool,
    duration: float,
    timeout_s: float,
    max_output: int,
) -> ExecutionResult:
    stderr = err.text()
    exit_code = launched.exit_status()
    error = None
    if exit_code is None:
        if run.killed or timed_out:
            exit_code = -signal.SIGKILL
        else:
            exit_code = _tool_exit_code(launched)
            if exit_code in (CONFINE_FAILED, BOOTSTRAP_FAILED) and "sandbox:" in stderr:
                error = stderr.strip().splitlines()[-1]
    elif exit_code == CONFINE_FAILED and "sandbox: could not confine" in stderr:
        error = stderr.strip().splitlines()[-1]
    error = error or run.failure
    limits = launched.config.limits
    return ExecutionResult(
        stdout=out.text(),
        stderr=stderr,
        exit_code=exit_code,
        timed_out=timed_out,
        duration_s=round(duration, 4),
        truncated=bool(out.dropped or err.dropped),
        isolation=launched.isolation,
        code=code,
        error=error,
        limits={
            "timeout_s": math.ceil(timeout_s),
            "memory_mb": limits.memory_mb,
            "max_output_bytes": max_output,
            "max_processes": limits.processes,
            "max_file_mb": limits.file_mb,
            "max_disk_mb": limits.disk_mb,
            "open_files": limits.open_files,
        },
        limit_exceeded=run.limit_exceeded,
    )


def _tool_exit_code(launched: Launched) -> int | None:
    """The started process's status, with a wrapper's 128+N turned back into -N."""
    code = launched.proc.returncode
    if code is not None and launched.config.tier != "process" and code > 128:
        return -(code - 128)
    return code


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
