"""Finding and killing every process of one sandbox run, stragglers included."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from tools.limits import PidsCgroup

# Marks every process of one run, so stragglers can be found through /proc.
MARKER_VAR = "ORQUESTRA_SANDBOX_RUN"
# SIGKILL and re-scan until nothing is left, pausing a little longer each round
# (processes of a closing PID namespace take a moment to die), for at most this long.
REAP_BUDGET_S = 0.5
REAP_FIRST_PAUSE_S = 0.0005
REAP_MAX_PAUSE_S = 0.02


def _stat_fields(pid: str) -> tuple[int, int, int] | None:
    """(ppid, pgrp, session) of a live process; None for zombies and vanished ones."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    if fields[0] in ("Z", "X"):  # already dead: nothing left to kill
        return None
    return int(fields[1]), int(fields[2]), int(fields[3])


def stragglers(root: int, marker: str) -> set[int]:
    """Processes of one run: its group and session, their descendants, and marked ones."""
    if not sys.platform.startswith("linux"):
        return set()
    found: set[int] = set()
    parents: dict[int, int] = {}
    token = f"{MARKER_VAR}={marker}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        stat = _stat_fields(entry)
        if stat is None:
            continue
        pid, (ppid, pgrp, session) = int(entry), stat
        parents[pid] = ppid
        if root in (pgrp, session):
            found.add(pid)
            continue
        with contextlib.suppress(OSError):
            if token in Path(f"/proc/{entry}/environ").read_bytes():
                found.add(pid)
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    return found


def signal_all(
    root: int, cgroup: PidsCgroup | None, marker: str, sig: int, *, scan: bool = True
) -> int:
    """Send `sig` to every process of the run; return how many live ones were found.

    The process group and the cgroup are signalled first, cheaply; `scan` also walks
    /proc for the run's session, descendants and marked processes, which is slow while
    a fork bomb keeps the CPUs busy, so callers skip it until the cheap signals landed.
    """
    if sys.platform != "win32":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(root, sig)
    targets = {p for p in (cgroup.pids() if cgroup else []) if _stat_fields(str(p))}
    if scan:
        targets |= stragglers(root, marker)
    for pid in targets:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    return len(targets)


def reap_all(root: int, cgroup: PidsCgroup | None, marker: str) -> None:
    """SIGKILL until nothing of the run is left alive (bounded)."""
    kill = signal.SIGKILL if sys.platform != "win32" else signal.SIGTERM
    signal_all(root, cgroup, marker, kill, scan=False)
    deadline = time.monotonic() + REAP_BUDGET_S
    pause = REAP_FIRST_PAUSE_S
    while signal_all(root, cgroup, marker, kill) and time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(pause * 2, REAP_MAX_PAUSE_S)
