"""The memory watchdog: a run's total memory where no memory cgroup can be had.

An ordinary user usually cannot create cgroups, and rlimits only cap each process. So the
sandbox polls the run: the resident anonymous and shared memory of every process of the
run (found by walking the kernel's child lists down from the process it started, never
by scanning /proc) plus what its private tmpfs mounts hold. Once the total passes the
cap, the whole run is killed. Pages shared after a fork count once per process, so the
total errs on the high side; and a process can outrun one polling interval, so this is a
best-effort bound where a cgroup's is exact.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

# How often the watchdog looks.
POLL_S = 0.02
KB = 1024


def descendants(root: int) -> list[int]:
    """`root` and every process below it, from /proc/<pid>/task/<tid>/children."""
    found = [root]
    index = 0
    while index < len(found):
        pid = found[index]
        index += 1
        with contextlib.suppress(OSError):
            for task in os.scandir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError):
                    found += [int(c) for c in Path(task.path, "children").read_text().split()]
    return found


def _resident_kb(pid: int) -> int:
    total = 0
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("RssAnon:", "RssShmem:")):
                total += int(line.split()[1])
    return total


def _mount_namespace(pid: int | str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return ""


class MemoryWatch:
    """Measures one run's total memory (processes plus its private tmpfs)."""

    def __init__(self, root: int, tmpfs: tuple[str, ...]) -> None:
        self.root = root
        self.tmpfs = tmpfs
        self._own_ns = _mount_namespace("self")
        self._inside: int | None = None

    def total_bytes(self) -> int:
        """The run's memory now."""
        pids = descendants(self.root)
        total = sum(_resident_kb(pid) for pid in pids) * KB
        return total + self._tmpfs_bytes(pids)

    def _tmpfs_bytes(self, pids: list[int]) -> int:
        if not self.tmpfs:
            return 0
        if self._inside is None:  # the first process that sees the sandbox's mounts
            self._inside = next(
                (p for p in pids if _mount_namespace(p) not in ("", self._own_ns)), None
            )
            if self._inside is None:
                return 0
        used = 0
        for mount in self.tmpfs:
            with contextlib.suppress(OSError):
                fs = os.statvfs(f"/proc/{self._inside}/root{mount}")
                used += (fs.f_blocks - fs.f_bfree) * fs.f_frsize
        return used
