"""A started sandbox process waiting for its code, and how to kill, read and release it.

`Launched` is what `tools.launcher.spawn.launch` returns: the process, its pipes (code
in, the bootstrap's reports out), its work dir, cgroup and per-run identity. Killing it
reaches every process of the run in every tier; releasing it frees what the run held.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

from tools import bootstrap, workdirs
from tools.cgroups import RunCgroup
from tools.identity import RunIdentity
from tools.isolation import Tier
from tools.limits import Limits
from tools.processes import send_signal

# After asking a process-tier supervisor to stop, how long before it is killed outright.
SUPERVISOR_STOP_S = 0.5
STOP_POLL_S = 0.005
# After SIGKILL, how long to wait for a PID namespace to be torn down.
KILL_WAIT_S = 1.0
# The bootstrap's exit statuses for its own failures (never the code's).
CONFINE_FAILED = 125
BOOTSTRAP_FAILED = 126
# Cgroups stay busy for a moment after their last process exits; removed on a later run.
# Runs end and start on several threads at once: the list is only touched under its lock.
LATER: list[RunCgroup] = []
_LATER_LOCK = threading.Lock()


def remove_later(cgroup: RunCgroup) -> None:
    """Keep `cgroup` to remove on a later run (it is still busy now)."""
    with _LATER_LOCK:
        LATER.append(cgroup)


def retry_removals() -> None:
    """Remove the cgroups kept for later that have emptied since; keep the others."""
    with _LATER_LOCK:
        LATER[:] = [cgroup for cgroup in LATER if not cgroup.remove()]


@dataclass(frozen=True)
class Config:
    """Everything that shapes a sandbox process before it gets its code."""

    tier: Tier
    limits: Limits
    network: bool
    python: str


@dataclass
class Launched:
    """A started sandbox process waiting for its code."""

    config: Config
    proc: subprocess.Popen[bytes]
    pidfd: int | None
    code_pipe: int
    """Write end of the pipe the bootstrap reads the code from."""
    status_pipe: int
    """Read end of the pipe the bootstrap reports the code's exit status on."""
    workdir: str
    """The code's working directory, as the code sees it."""
    host_workdir: bool
    marker: str
    cgroup: RunCgroup | None
    identity: RunIdentity | None
    isolation: tuple[str, ...] = field(default=())
    namespace_pidfd: int | None = None
    """The PID namespace's first process (namespace tiers): once it has exited, the
    kernel has killed and reaped everything else in the namespace."""
    _status: list[str] = field(default_factory=list)

    def alive(self) -> bool:
        """Whether the process is still waiting."""
        return self.proc.poll() is None

    def kill(self) -> None:
        """Kill every process of the run now (blocking, bounded; never raises)."""
        if self.cgroup is not None:
            self.cgroup.kill()
        if self.config.tier != "process":
            # The tool's death takes its PID namespace, and everything in it, along.
            send_signal(self.proc, self.pidfd, signal.SIGKILL)
            self.wait_gone(KILL_WAIT_S)
            return
        # Only the supervisor sees every orphan of the code (it is their subreaper).
        send_signal(self.proc, self.pidfd, signal.SIGTERM)
        deadline = time.monotonic() + SUPERVISOR_STOP_S
        while self.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(STOP_POLL_S)
        if self.proc.poll() is None:
            send_signal(self.proc, self.pidfd, signal.SIGKILL)
            if self.identity is not None:
                bootstrap.kill_uid(self.identity.uid)
            pgid = self.code_pgid()
            if pgid:
                with contextlib.suppress(OSError):
                    os.killpg(pgid, signal.SIGKILL)

    def wait_gone(self, timeout_s: float) -> bool:
        """Wait until every process of the run has exited (bounded); True if they have."""
        pending = [fd for fd in (self.pidfd, self.namespace_pidfd) if fd is not None]
        deadline = time.monotonic() + timeout_s
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with contextlib.suppress(OSError, ValueError):
                ready, _, _ = select.select(pending, [], [], left)
                pending = [fd for fd in pending if fd not in ready]
        return True

    def status_lines(self) -> list[str]:
        """What the bootstrap reported so far (`pgid N`, `exit N`, `stopped`)."""
        if self.status_pipe < 0:  # released: only what was read before
            return self._status
        with contextlib.suppress(OSError):
            while True:
                ready, _, _ = select.select([self.status_pipe], [], [], 0)
                if not ready:
                    break
                chunk = os.read(self.status_pipe, 4096)
                if not chunk:
                    break
                self._status += chunk.decode(errors="replace").splitlines()
        return self._status

    def code_pgid(self) -> int:
        """The process group of the code (process tier), 0 before it started."""
        for line in self.status_lines():
            if line.startswith("pgid "):
                return int(line.split()[1])
        return 0

    def exit_status(self) -> int | None:
        """The code's exit status as the bootstrap saw it (negative: the signal), if any."""
        for line in self.status_lines():
            if line.startswith("exit "):
                return int(line.split()[1])
        return None

    def discard(self) -> None:
        """Kill whatever is left of it and remove its directory and cgroup."""
        with contextlib.suppress(OSError):
            os.close(self.code_pipe)
        self.kill()
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            self.proc.wait(timeout=1)
        self.release()

    def release(self) -> None:
        """Close the pipes and remove the directory and cgroup of a finished process."""
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        for fd in (self.status_pipe, self.pidfd, self.namespace_pidfd):
            if fd is not None and fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.pidfd = self.namespace_pidfd = None
        self.status_pipe = -1  # its number may be reused: never read it again
        if self.host_workdir:
            workdirs.discard(self.workdir)
        if self.identity is not None and self.config.tier == "process":
            workdirs.remove_owned_by(self.identity.uid)
        if self.cgroup is not None and not self.cgroup.remove():
            remove_later(self.cgroup)
