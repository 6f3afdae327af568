"""One run in progress: send the code, read its output, enforce time and memory, clean up.

`execute` drives a started sandbox process (`tools.launcher.Launched`) from its code to
its `ExecutionResult`: it waits for the end (pidfd, else a waiting thread), kills the
whole run on timeout, on the memory limit (cgroup, else the watchdog of
`tools.memory`) or on cancellation, and always reaps, drains and releases what the run
held. Blocking calls happen in threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from tools.launcher import BOOTSTRAP_FAILED, CONFINE_FAILED, Launched
from tools.limits import MB
from tools.memory import POLL_S, MemoryWatch
from tools.sandbox.pipes import Capture, send_code
from tools.sandbox.result import ExecutionResult

# How long to wait for the run's processes to be gone after killing them.
EXIT_WAIT_S = 0.5
# How long to wait for the output pipes to close once the run has ended.
DRAIN_TIMEOUT_S = 0.5


class Run:
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


async def execute(
    launched: Launched, code: str, stdin: str | None, timeout_s: float, max_output: int
) -> ExecutionResult:
    """Run `code` in `launched` and report it; the run is over, and released, on return."""
    proc = launched.proc
    out, err = Capture(max_output), Capture(max_output)
    readers = [
        asyncio.ensure_future(out.drain(proc.stdout)),
        asyncio.ensure_future(err.drain(proc.stderr)),
    ]
    run = Run(launched)
    run.watch_exit()
    timed_out = False
    start = time.perf_counter()
    sender = asyncio.ensure_future(asyncio.to_thread(send_code, launched, code, stdin))
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
    run: Run,
    out: Capture,
    err: Capture,
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
