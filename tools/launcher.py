"""Starting sandbox processes, and keeping one warm spare ready per configuration.

A sandbox process is the isolated interpreter running a tiny bootstrap that waits for
the code on a pipe, then runs it as `__main__` from `main.py` in its own temporary
directory. Starting it (namespaces, mounts, interpreter start-up) costs more than the
snippet usually does, so after each run a spare is started in the background: the next
run only has to send its code. Spares are plain `subprocess.Popen` objects, not tied to
any event loop, so `run_python` (one loop per call) and graph nodes share them.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from tools.isolation import Tier, describe, wrap_command
from tools.limits import Limits, PidsCgroup, rlimit_setter
from tools.processes import MARKER_VAR, reap_all

# Distinct configurations that keep a spare at once (each spare is one idle interpreter).
MAX_SPARES = 4
# Longest wait for a new sandbox process to report that its interpreter is up.
READY_TIMEOUT_S = 30.0
# bwrap --die-with-parent ties the sandbox to the *thread* that started it
# (PR_SET_PDEATHSIG), so every launch happens on these long-lived threads.
_SPAWNER = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="sandbox")


# Runs in the sandbox: read the code from the pipe, keep it as main.py (so tracebacks
# show source lines), run it as __main__, and print tracebacks without our own frame.
BOOTSTRAP = """\
import os, sys, traceback
os.write(int(sys.argv[2]), b"R")
os.close(int(sys.argv[2]))
with os.fdopen(int(sys.argv[1]), "rb") as pipe:
    source = pipe.read()
if not source.startswith(b"RUN\\n"):
    sys.exit(0)
source = source[4:]
with open("main.py", "wb") as f:
    f.write(source)
sys.argv = ["main.py"]
namespace = {"__name__": "__main__", "__file__": "main.py", "__builtins__": __builtins__}
try:
    code = compile(source, "main.py", "exec")
except (SyntaxError, ValueError) as error:
    traceback.print_exception(type(error), error, None)
    sys.exit(1)
try:
    exec(code, namespace)
except SystemExit:
    raise
except BaseException as error:
    traceback.print_exception(type(error), error, error.__traceback__.tb_next)
    sys.exit(1)
"""


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
    code_pipe: int
    """Write end of the pipe the bootstrap reads the code from."""
    workdir: str
    marker: str
    cgroup: PidsCgroup | None
    isolation: tuple[str, ...] = field(default=())

    def alive(self) -> bool:
        """Whether the process is still waiting."""
        return self.proc.poll() is None

    def discard(self) -> None:
        """Kill whatever is left of it and remove its directory and cgroup."""
        with contextlib.suppress(OSError):
            os.close(self.code_pipe)
        reap_all(self.proc.pid, self.cgroup, self.marker)
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=1)
        self.release()

    def release(self) -> None:
        """Close the pipes and remove the directory and cgroup of a finished process."""
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
        if self.cgroup is not None and not self.cgroup.remove():
            _LATER.append(self.cgroup)


# Cgroups stay busy for a moment after their last process exits; removed on a later run.
_LATER: list[PidsCgroup] = []


def _environment(workdir: str, marker: str) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": workdir,
        "TMPDIR": workdir,
        MARKER_VAR: marker,
    }
    if sys.platform == "win32":  # the interpreter cannot start without these
        env.update({k: os.environ[k] for k in ("SYSTEMROOT", "WINDIR") if k in os.environ})
    return env


def launch(config: Config) -> Launched:
    """Start a sandbox process for `config` (blocking: call from a worker thread).

    Raises:
        OSError: The interpreter or the isolation tool could not be started.
    """
    for stale in list(_LATER):
        if stale.remove():
            _LATER.remove(stale)
    workdir = tempfile.mkdtemp(prefix="orq-sbx-")
    # The parent pid prefix tells this process's runs apart from other processes' sandboxes.
    marker = f"{os.getpid()}-{uuid.uuid4().hex}"
    cgroup = PidsCgroup.create(config.limits.processes)
    set_limits = rlimit_setter(config.limits)
    read_end, write_end = os.pipe()
    ready_read, ready_write = os.pipe()
    os.set_inheritable(read_end, True)
    os.set_inheritable(ready_write, True)

    def preexec() -> None:
        if cgroup is not None:
            cgroup.join_from_child()
        if set_limits is not None:
            set_limits()

    argv = [
        config.python,
        "-I",
        "-u",
        "-X",
        "utf8",
        "-c",
        BOOTSTRAP,
        str(read_end),
        str(ready_write),
    ]
    command = wrap_command(
        config.tier, argv, workdir=workdir, python=config.python, network=config.network
    )
    kwargs: dict[str, Any] = {}
    if sys.platform != "win32":
        kwargs = {
            "start_new_session": True,
            "preexec_fn": preexec,
            "pass_fds": (read_end, ready_write),
        }
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=workdir,
            env=_environment(workdir, marker),
            **kwargs,
        )
    except OSError:
        os.close(write_end)
        os.close(ready_read)
        shutil.rmtree(workdir, ignore_errors=True)
        if cgroup is not None:
            cgroup.remove()
        raise
    finally:
        os.close(read_end)
        os.close(ready_write)
    applied = (
        describe(config.tier, config.network)
        + (("rlimits",) if set_limits else ())
        + (("pids-cgroup",) if cgroup else ())
    )
    launched = Launched(config, proc, write_end, workdir, marker, cgroup, applied)
    try:
        ready, _, _ = select.select([ready_read], [], [], READY_TIMEOUT_S)
        up = bool(ready) and os.read(ready_read, 1) == b"R"
    finally:
        os.close(ready_read)
    if not up:
        stderr = b""
        reap_all(proc.pid, cgroup, marker)
        with contextlib.suppress(OSError, ValueError):
            stderr = proc.stderr.read() if proc.stderr else b""
        launched.discard()
        raise OSError(
            f"the sandbox did not start ({' '.join(command[:1])} exited with "
            f"{proc.returncode}): {stderr.decode(errors='replace').strip()[-500:]}"
        )
    return launched


def launch_async(config: Config) -> concurrent.futures.Future[Launched]:
    """Start a sandbox process on a long-lived spawner thread."""
    return _SPAWNER.submit(launch, config)


class SparePool:
    """At most one started, unused sandbox process per configuration."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._spares: OrderedDict[Config, Launched] = OrderedDict()
        self._filling: set[Config] = set()

    def take(self, config: Config) -> Launched | None:
        """The spare for `config`, if one is alive."""
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

    def clear(self) -> None:
        """Stop every spare."""
        with self._lock:
            spares = list(self._spares.values())
            self._spares.clear()
        for spare in spares:
            spare.discard()


POOL = SparePool()
atexit.register(POOL.clear)
