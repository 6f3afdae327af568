"""Starting one sandbox process: pipes, identity, work dir, cgroup, limits, isolation tool.

`launch` starts the bootstrap (`tools.bootstrap`) in the tier's isolation tool and waits
until it reports that it is confined and ready for the code. Launches happen on
long-lived spawner threads, since the sandbox dies with the thread that started it.
"""

from __future__ import annotations

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
import uuid
from pathlib import Path
from typing import Any

from tools import bootstrap, cgroups, workdirs
from tools.cgroups import RunCgroup
from tools.identity import new_run_identity
from tools.isolation import (
    Tier,
    bwrap_command,
    describe,
    landlock_paths,
    unshare_command,
    unshare_view,
)
from tools.launcher.launched import Config, Launched, retry_removals
from tools.limits import MB, rlimit_setter
from tools.processes import MARKER_VAR, open_pidfd
from tools.workdirs import BOOTSTRAP_SOURCE

# Longest wait for a new sandbox process to report that its interpreter is up.
READY_TIMEOUT_S = 30.0
# The signal a process-tier supervisor gets when the application (strictly: the thread that
# started it) dies: not SIGTERM, which the application sends to stop a run, because on
# that death the supervisor must also remove the work dir.
PROCESS_TIER_DEATH_SIGNAL = signal.SIGUSR1
# bwrap --die-with-parent and PR_SET_PDEATHSIG tie the sandbox to the *thread* that
# started it, so every launch happens on these long-lived threads.
SPAWNER = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="sandbox")
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
    retry_removals()
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
    return SPAWNER.submit(launch, config)
