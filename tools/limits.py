"""Resource limits for sandboxed code: what one run may use, and the POSIX rlimits for it.

rlimits cap CPU seconds, address space, file size, open files, core dumps and processes
per process. They are the first line (a huge allocation fails with MemoryError inside the
code), not the whole story: totals for a run come from its cgroup (`tools.cgroups`) or,
without one, the memory watchdog (`tools.memory`) and the size of its tmpfs mounts.

RLIMIT_NPROC counts every process of a uid. Under root each run has its own uid
(`tools.identity`), so the cap is exactly the run's processes; for an ordinary user it is
the user's current count plus the run's allowance.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The caps applied to one run."""

    cpu_s: int
    memory_mb: int
    file_mb: int
    processes: int
    open_files: int
    disk_mb: int = 256
    """Size of each private tmpfs (/tmp with the work dir, /dev/shm) in namespace tiers."""


def _user_process_count() -> int:
    uid = os.getuid()
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += 1
    return count


def rlimit_setter(limits: Limits, *, own_uid: bool) -> Callable[[], None] | None:
    """A function for `preexec_fn` that applies the rlimits in the child (None on Windows).

    Args:
        limits: The run's caps.
        own_uid: The code runs as a uid of its own (root's per-run uid), so RLIMIT_NPROC
            can be exactly `limits.processes`.
    """
    if sys.platform == "win32":
        return None
    import resource

    nproc: int | None = None
    if own_uid:
        nproc = limits.processes
    elif sys.platform.startswith("linux") and os.getuid() != 0:
        # RLIMIT_NPROC counts every process of the user, so leave room for those.
        nproc = _user_process_count() + limits.processes
    caps = [
        (resource.RLIMIT_CPU, limits.cpu_s),
        (resource.RLIMIT_FSIZE, limits.file_mb * MB),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
    ]
    if sys.platform != "darwin":  # macOS does not enforce RLIMIT_AS and rejects some values
        caps.append((resource.RLIMIT_AS, limits.memory_mb * MB))
    if nproc is not None:
        caps.append((resource.RLIMIT_NPROC, nproc))

    def apply() -> None:
        for which, value in caps:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(which, (value, value))

    return apply
