"""Starting sandbox processes, and keeping one warm spare ready per configuration.

A sandbox process is the isolated interpreter running `tools.bootstrap`, which confines
itself and waits for the code on a pipe. Starting it (namespaces, mounts, interpreter
start-up) costs more than the snippet usually does, so after each run a spare is started
in the background: the next run only has to send its code. A spare serves exactly one
run. Its pipes are reachable by no other run: other runs cannot see it (PID namespace),
are another uid (root), or are refused by the kernel (`PR_SET_DUMPABLE` 0 and Landlock's
ptrace rule). Spares are plain `subprocess.Popen` objects, not tied to any event loop, so
`run_python` (one loop per call) and graph nodes share them.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import functools
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools import bootstrap, cgroups, workdirs
from tools.cgroups import RunCgroup
from tools.identity import RunIdentity, new_run_identity
from tools.isolation import (
    Tier,
    bwrap_command,
    describe,
    landlock_paths,
    unshare_command,
    unshare_view,
)
from tools.limits import MB, Limits, rlimit_setter
from tools.processes import MARKER_VAR, open_pidfd, send_signal
from tools.workdirs import BOOTSTRAP_SOURCE

# Distinct configurations that keep a spare at once (each spare is one idle interpreter).
MAX_SPARES = 4
# Longest wait for a new sandbox process to report that its interpreter is up.
READY_TIMEOUT_S = 30.0
# After asking a process-tier supervisor to stop, how long before it is killed outright.
SUPERVISOR_STOP_S = 0.5
STOP_POLL_S = 0.005
# The signal a process-tier supervisor gets when the application (strictly: the thread that
# started it) dies: not SIGTERM, which the application sends to stop a run, because on
# that death the supervisor must also remove the work dir.
PROCESS_TIER_DEATH_SIGNAL = signal.SIGUSR1
# After SIGKILL, how long to wait for a PID namespace to be torn down.
KILL_WAIT_S = 1.0
# The bootstrap's exit statuses for its own failures (never the code's).
CONFINE_FAILED = 125
BOOTSTRAP_FAILED = 126
# bwrap --die-with-parent and PR_SET_PDEATHSIG tie the sandbox to the *thread* that
# started it, so every launch happens on these long-lived threads.
_SPAWNER = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="sandbox")


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
            _LATER.append(self.cgroup)


# Cgroups stay busy for a moment after their last process exits; removed on a later run.
_LATER: list[RunCgroup] = []
_SWEPT = threading.Event()


def _environment(workdir: str, tier: Tier, marker: str) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": workdir,
        "TMPDIR": workdir if tier == "process" else "/tmp",
        MARKER_VAR: marker,
    }
    if sys.platform == "win32":  # the interpreter cannot start without these
        env.update({k: os.environ[k] for k in ("SYSTEMROOT", "WINDIR") if k in os.environ})
    return env


def _sweep_once() -> None:
    """Clean up after applications that died mid-run (once per application, in background)."""
    if _SWEPT.is_set():
        return
    _SWEPT.set()

    def sweep() -> None:
        with contextlib.suppress(Exception):  # best effort: never in a run's way
            workdirs.sweep_stale()
            cgroups.sweep_stale()

    threading.Thread(target=sweep, daemon=True, name="sandbox-sweep").start()


def _preexec(
    cgroup: RunCgroup | None, set_limits: Any, pdeath: int, parent: int
) -> Any:  # a callable for preexec_fn
    def preexec() -> None:
        if cgroup is not None:
            cgroup.join_from_child()
        if set_limits is not None:
            set_limits()
        if sys.platform.startswith("linux"):
            bootstrap.set_process_attribute(bootstrap.PR_SET_PDEATHSIG, pdeath)
            if os.getppid() != parent:  # the application died before the line above
                os._exit(1)
            bootstrap.set_process_attribute(bootstrap.PR_SET_NO_NEW_PRIVS, 1)

    return preexec


def launch(config: Config) -> Launched:
    """Start a sandbox process for `config` (blocking: call from a spawner thread).

    Raises:
        OSError: The interpreter or the isolation tool could not be started.
    """
    _sweep_once()
    for stale in list(_LATER):
        if stale.remove():
            _LATER.remove(stale)
    linux = sys.platform.startswith("linux")
    identity = new_run_identity() if linux else None
    tier, limits = config.tier, config.limits
    exposed = tier == "process" and identity is None and linux and _without_landlock()
    if exposed:
        # Code of the same uid could otherwise open this process's /proc files (its
        # environment, memory, the pipes of the spares); Landlock would forbid it.
        bootstrap.set_process_attribute(bootstrap.PR_SET_DUMPABLE, 0)
    # The parent pid prefix tells this process's runs apart from other processes' sandboxes.
    marker = f"{os.getpid()}-{uuid.uuid4().hex}"
    host = tier == "process"
    workdir = (
        workdirs.make_workdir(identity.uid if identity else None)
        if host
        else (f"/tmp/orq-{uuid.uuid4().hex[:12]}")
    )
    cgroup = RunCgroup.create(limits.memory_mb, limits.processes) if linux else None
    set_limits = rlimit_setter(limits, own_uid=identity is not None)
    code_read, code_write = os.pipe()
    ready_read, ready_write = os.pipe()
    status_read, status_write = os.pipe()
    disk = limits.disk_mb * MB
    cfg: dict[str, Any] = {
        "tier": tier,
        "code_fd": code_read,
        "ready_fd": ready_write,
        "status_fd": status_write,
        "uid": identity.uid if identity else None,
        "gid": identity.gid if identity else None,
        "workdir": workdir,
        "host_workdir": host,
        "network": config.network,
        "pdeath_signal": int(PROCESS_TIER_DEATH_SIGNAL if host else signal.SIGKILL),
        "landlock": landlock_paths(tier, config.python, workdir),
        "unshare_view": unshare_view(config.python, disk) if tier == "unshare" else None,
    }
    argv = [config.python, "-I", "-u", "-X", "utf8", "-c", BOOTSTRAP_SOURCE, json.dumps(cfg)]
    if tier == "bwrap":
        command = bwrap_command(argv, python=config.python, network=config.network, disk_bytes=disk)
    elif tier == "unshare":
        command = unshare_command(argv, network=config.network)
    else:
        command = argv
    kwargs: dict[str, Any] = {}
    if sys.platform != "win32":
        if linux:
            bootstrap.libc()  # loaded here: the child must not load libraries after fork
        pdeath = int(PROCESS_TIER_DEATH_SIGNAL if host else signal.SIGKILL)
        kwargs = {
            "start_new_session": True,
            "preexec_fn": _preexec(cgroup, set_limits, pdeath, os.getpid()),
            "pass_fds": (code_read, ready_write, status_write),
        }
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=workdir if host else "/",
            env=_environment(workdir, tier, marker),
            **kwargs,
        )
    except OSError:
        for fd in (code_write, ready_read, status_read):
            os.close(fd)
        if host:
            workdirs.discard(workdir)
        if cgroup is not None:
            cgroup.remove()
        raise
    finally:
        for fd in (code_read, ready_write, status_write):
            os.close(fd)
    launched = Launched(
        config,
        proc,
        open_pidfd(proc.pid),
        code_write,
        status_read,
        workdir,
        host,
        marker,
        cgroup,
        identity,
    )
    try:
        ready, _, _ = select.select([ready_read], [], [], READY_TIMEOUT_S)
        message = os.read(ready_read, 65536) if ready else b""
    finally:
        os.close(ready_read)
    if not message.startswith(b"R"):
        with contextlib.suppress(OSError):
            os.close(code_write)
        launched.kill()
        stderr = b""
        with contextlib.suppress(OSError, ValueError):
            stderr = proc.stderr.read() if proc.stderr else b""
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            proc.wait(timeout=1)
        launched.release()
        raise OSError(
            f"the sandbox did not start ({command[0]} exited with {proc.returncode}): "
            f"{stderr.decode(errors='replace').strip()[-500:]}"
        )
    if tier != "process":
        launched.namespace_pidfd = _namespace_pidfd(proc.pid)
    applied = json.loads(message[1:] or b"[]")
    launched.isolation = (
        describe(tier, config.network)
        + tuple(applied)
        + (("rlimits",) if set_limits else ())
        + _cgroup_tags(cgroup)
        + (() if _has_memory_cgroup(cgroup) else ("memory-watchdog",))
        + (("app-not-dumpable",) if exposed else ())
    )
    return launched


@functools.cache
def _without_landlock() -> bool:
    return bootstrap.landlock_abi() < 1


def _namespace_pidfd(tool: int) -> int | None:
    """A pidfd for the one child of the namespace tool (bwrap, unshare): the namespace's init.

    Taken once the sandbox is ready, when that child exists and only the tool (alive, our
    unreaped child) could reap it; the parent is checked again after opening.
    """
    children = Path(f"/proc/{tool}/task/{tool}/children")
    try:
        child = int(children.read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None
    pidfd = open_pidfd(child)
    if pidfd is None:
        return None
    try:
        stat = Path(f"/proc/{child}/stat").read_text()
        parent = int(stat[stat.rfind(")") + 2 :].split()[1])
    except (OSError, ValueError, IndexError):
        parent = -1
    if parent != tool:
        os.close(pidfd)
        return None
    return pidfd


def _has_memory_cgroup(cgroup: RunCgroup | None) -> bool:
    return cgroup is not None and (cgroup.memory_v1 is not None or cgroup.memory_v2 is not None)


def _cgroup_tags(cgroup: RunCgroup | None) -> tuple[str, ...]:
    if cgroup is None:
        return ()
    tags = []
    if _has_memory_cgroup(cgroup):
        tags.append("memory-cgroup")
    if cgroup.pids is not None:
        tags.append("pids-cgroup")
    if cgroup.kill_file is not None or cgroup.freezer is not None:
        tags.append("cgroup-kill")
    return tuple(tags)


def launch_async(config: Config) -> concurrent.futures.Future[Launched]:
    """Start a sandbox process on a long-lived spawner thread."""
    return _SPAWNER.submit(launch, config)


class SparePool:
    """At most one started, unused sandbox process per configuration; each serves one run."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._spares: OrderedDict[Config, Launched] = OrderedDict()
        self._filling: set[Config] = set()

    def take(self, config: Config) -> Launched | None:
        """The spare for `config`, if one is alive (it leaves the pool for good)."""
        with self._lock:
            spare = self._spares.pop(config, None)
        if spare is not None and not spare.alive():
            spare.discard()
            return None
        return spare

    def refill(self, config: Config) -> None:
        """Start a spare for `config` in a background thread (no-op if one is coming)."""
        with self._lock:
            if config in self._spares or config in self._filling:
                return
            self._filling.add(config)
        _SPAWNER.submit(self._fill, config)

    def _fill(self, config: Config) -> None:
        try:
            spare = launch(config)
            evicted: list[Launched] = []
            with self._lock:
                self._spares[config] = spare
                while len(self._spares) > MAX_SPARES:
                    evicted.append(self._spares.popitem(last=False)[1])
            for old in evicted:
                old.discard()
        except OSError:
            return
        finally:
            # Only now is the pool settled: waiters see no spare half-started or half-evicted.
            with self._lock:
                self._filling.discard(config)
                self._lock.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until no spare is being started (False on timeout)."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._filling, timeout=timeout_s)

    def markers(self) -> set[str]:
        """Run markers of the spares (idle processes holding no code yet)."""
        with self._lock:
            return {s.marker for s in self._spares.values()}

    def pids(self) -> set[int]:
        """Pids of the spares' first processes (for tests looking for leftovers)."""
        with self._lock:
            return {s.proc.pid for s in self._spares.values()}

    def clear(self) -> None:
        """Stop every spare."""
        with self._lock:
            spares = list(self._spares.values())
            self._spares.clear()
        for spare in spares:
            spare.discard()


POOL = SparePool()


@atexit.register
def _shutdown() -> None:
    POOL.clear()
    for cgroup in _LATER:
        cgroup.remove()
