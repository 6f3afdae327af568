"""Starting sandbox processes, and keeping one warm spare ready per configuration.

A sandbox process is the isolated interpreter running `tools.bootstrap`, which confines
itself and waits for the code on a pipe. Starting it (namespaces, mounts, interpreter
start-up) costs more than the snippet usually does, so after each run a spare is started
in the background: the next run only has to send its code. A spare serves exactly one
run. Its pipes are reachable by no other run: other runs cannot see it (PID namespace),
are another uid (root), or are refused by the kernel (`PR_SET_DUMPABLE` 0 and Landlock's
ptrace rule). Spares are plain `subprocess.Popen` objects, not tied to any event loop, so
`run_python` (one loop per call) and graph nodes share them.

The parts: `launched` (a started process and how to kill and release it), `spawn`
(starting one), `spares` (the pool of warm spares, `POOL`).
"""

from __future__ import annotations

from tools.launcher.launched import (
    BOOTSTRAP_FAILED,
    CONFINE_FAILED,
    KILL_WAIT_S,
    STOP_POLL_S,
    SUPERVISOR_STOP_S,
    Config,
    Launched,
)
from tools.launcher.spares import MAX_SPARES, POOL, SparePool
from tools.launcher.spawn import (
    PROCESS_TIER_DEATH_SIGNAL,
    READY_TIMEOUT_S,
    launch,
    launch_async,
)

__all__ = [
    "BOOTSTRAP_FAILED",
    "CONFINE_FAILED",
    "KILL_WAIT_S",
    "MAX_SPARES",
    "POOL",
    "PROCESS_TIER_DEATH_SIGNAL",
    "READY_TIMEOUT_S",
    "STOP_POLL_S",
    "SUPERVISOR_STOP_S",
    "Config",
    "Launched",
    "SparePool",
    "launch",
    "launch_async",
]
