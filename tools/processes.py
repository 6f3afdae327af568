"""Signalling a run's processes by handles that cannot point at someone else.

A pid read from a /proc scan may belong to an unrelated process by the time it is
signalled (a fork bomb wraps the pid space quickly). The sandbox never does that: the
process it started is held by a pidfd (or by its unreaped pid, which the kernel cannot
give away), the rest of a run is killed through its PID namespace, its cgroup, its
per-run uid (`tools.bootstrap.kill_uid`) or its supervisor, which kills its own children.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

# Marks every process of one run in its environment (for people and tests looking at a
# run; the sandbox itself never finds processes by it).
MARKER_VAR = "ORQUESTRA_SANDBOX_RUN"


def open_pidfd(pid: int) -> int | None:
    """A pidfd for `pid` (a child not yet reaped), or None where the kernel has none."""
    if not hasattr(os, "pidfd_open"):
        return None
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None


def send_signal(proc: subprocess.Popen[bytes], pidfd: int | None, sig: int) -> None:
    """Signal the started process through its pidfd (or its unreaped pid); never raises."""
    if pidfd is not None and hasattr(signal, "pidfd_send_signal"):
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(pidfd, sig)
        return
    if sys.platform == "win32":
        with contextlib.suppress(OSError):
            proc.kill()
        return
    with contextlib.suppress(OSError):
        proc.send_signal(sig)  # Popen only signals while the child is not reaped


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (used to tell dead applications' leftovers)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
