"""The sandbox's first process: it confines itself, waits for the code, supervises its run.

Part of the sandbox's bootstrap (see `tools.bootstrap`): standard library only. `main`
prepares everything before the code exists, reports readiness (and the protections it
applied), reads the code, forks the code's process, reports its pgid and exit status on
the status pipe, and in the `process` tier kills every descendant as their subreaper.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from typing import Any

from tools.bootstrap.code_process import run_code, run_confined
from tools.bootstrap.landlock import landlock_ruleset
from tools.bootstrap.mounts import build_unshare_view
from tools.bootstrap.native import (
    PR_SET_CHILD_SUBREAPER,
    PR_SET_DUMPABLE,
    PR_SET_PDEATHSIG,
    set_process_attribute,
)
from tools.bootstrap.privileges import kill_uid
from tools.bootstrap.removal import remove_tree
from tools.bootstrap.seccomp import seccomp_program

# How long the supervisor keeps killing the code's leftovers (process tier) at most.
REAP_BUDGET_S = 1.0
REAP_PAUSE_S = 0.002


def _children() -> list[int]:
    found = []
    with contextlib.suppress(OSError), os.scandir("/proc/self/task") as tasks:
        for task in tasks:
            with contextlib.suppress(OSError), open(f"{task.path}/children") as children:
                found += [int(pid) for pid in children.read().split()]
    return found


def reap_descendants(code_pgid: int, uid: int | None) -> None:
    """Kill and reap every descendant (process tier, where this process is the subreaper).

    The pids signalled are this process's own unreaped children, which no other process
    can take over; orphans of killed ones become its children in turn.
    """
    if uid is not None:
        kill_uid(uid)
    with contextlib.suppress(OSError):
        os.killpg(code_pgid, signal.SIGKILL)
    deadline = time.monotonic() + REAP_BUDGET_S
    while time.monotonic() < deadline:
        for pid in _children():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        reaped = False
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                break
            reaped = True
        if not reaped:
            time.sleep(REAP_PAUSE_S)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _report(fd: int, line: str) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, line.encode() + b"\n")


def main(cfg: dict[str, Any]) -> None:
    """Prepare, signal readiness, wait for the code, run it in a child, report, clean up."""
    linux = sys.platform.startswith("linux")
    status_fd: int = cfg["status_fd"]
    uid: int | None = cfg.get("uid")
    state = {"code_pgid": 0}
    applied: list[str] = []

    def stop(signum: int, frame: object) -> None:
        # The application stops the run (SIGTERM), or is going away (its death signal:
        # the spawning thread ended, so nobody will remove the work dir but us).
        if state["code_pgid"] or uid is not None:
            reap_descendants(state["code_pgid"], uid)
        if signum == cfg["pdeath_signal"] and cfg.get("host_workdir"):
            remove_tree(cfg["workdir"])
        _report(status_fd, "stopped")
        os._exit(0)

    if linux:
        if cfg["tier"] == "process":
            signal.signal(signal.SIGTERM, stop)
            signal.signal(cfg["pdeath_signal"], stop)
            set_process_attribute(PR_SET_CHILD_SUBREAPER, 1)
        set_process_attribute(PR_SET_PDEATHSIG, cfg["pdeath_signal"])
        set_process_attribute(PR_SET_DUMPABLE, 0)
        if cfg.get("unshare_view"):
            applied += build_unshare_view(cfg["unshare_view"])
    ruleset = -1
    if linux and cfg.get("landlock"):
        ruleset, enforced = landlock_ruleset(
            cfg["landlock"]["read"],
            cfg["landlock"]["write"],
            cfg["landlock"]["devices"],
            cfg["network"],
        )
        applied += enforced
    seccomp: list[tuple[int, int, int, int]] = []
    if linux:
        inet = cfg["network"] or cfg["tier"] != "process"
        seccomp, tags = seccomp_program(os.uname().machine, inet)
        applied += tags
    os.write(cfg["ready_fd"], b"R" + json.dumps(applied).encode())
    os.close(cfg["ready_fd"])
    source = _read_all(cfg["code_fd"])
    if not source.startswith(b"RUN\n"):
        return  # a spare discarded unused
    source = source[4:]
    if not hasattr(os, "fork"):  # Windows: no supervisor, the code runs here
        os.close(status_fd)
        os.chdir(cfg["workdir"])
        run_code(source)
        return
    supervisor = os.getpid()
    pid = os.fork()
    if pid == 0:
        run_confined(cfg, source, ruleset, seccomp, supervisor)
    if ruleset >= 0:
        os.close(ruleset)
    state["code_pgid"] = pid
    _report(status_fd, f"pgid {pid}")
    _, status = os.waitpid(pid, 0)
    exit_code = os.waitstatus_to_exitcode(status)
    if cfg["tier"] == "process":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        reap_descendants(pid, uid)
    _report(status_fd, f"exit {exit_code}")
    os._exit(0)
