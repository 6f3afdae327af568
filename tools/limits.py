"""Resource limits for sandboxed code: POSIX rlimits and, where writable, a pids cgroup.

rlimits cap CPU seconds, address space, file size, open files and core dumps. The
process count is capped by RLIMIT_NPROC for ordinary users; the kernel never applies
that limit to root, so under root the sandbox uses a pids cgroup when one can be
created (cgroup v1 `pids` hierarchy or a writable cgroup v2 directory).
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PREFIX = "orquestra-sandbox-"


@dataclass(frozen=True)
class Limits:
    """The caps applied to one run."""

    cpu_s: int
    memory_mb: int
    file_mb: int
    processes: int
    open_files: int


def _user_process_count() -> int:
    uid = os.getuid()
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += 1
    return count


def rlimit_setter(limits: Limits) -> Callable[[], None] | None:
    """A function for `preexec_fn` that applies the rlimits in the child (None on Windows)."""
    if sys.platform == "win32":
        return None
    import resource

    nproc: int | None = None
    if os.getuid() != 0 and sys.platform.startswith("linux"):
        # RLIMIT_NPROC counts every process of the user, so leave room for those.
        nproc = _user_process_count() + limits.processes
    mb = 1024 * 1024
    caps = [
        (resource.RLIMIT_CPU, limits.cpu_s),
        (resource.RLIMIT_FSIZE, limits.file_mb * mb),
        (resource.RLIMIT_NOFILE, limits.open_files),
        (resource.RLIMIT_CORE, 0),
    ]
    if sys.platform != "darwin":  # macOS does not enforce RLIMIT_AS and rejects some values
        caps.append((resource.RLIMIT_AS, limits.memory_mb * mb))
    if nproc is not None:
        caps.append((resource.RLIMIT_NPROC, nproc))

    def apply() -> None:
        for which, value in caps:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(which, (value, value))

    return apply


class PidsCgroup:
    """A pids cgroup capping and listing every process of one sandbox run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, max_pids: int) -> PidsCgroup | None:
        """Create a cgroup with `pids.max`, or None where cgroups are not writable."""
        if not sys.platform.startswith("linux") or os.geteuid() != 0:
            return None
        name = f"{CGROUP_PREFIX}{uuid.uuid4().hex[:12]}"
        for parent in (CGROUP_ROOT / "pids", CGROUP_ROOT):
            if not (parent / "cgroup.procs").exists():
                continue
            if parent == CGROUP_ROOT and not (parent / "cgroup.controllers").exists():
                continue
            try:
                path = parent / name
                path.mkdir()
                (path / "pids.max").write_text(f"{max_pids}\n")
                return cls(path)
            except OSError:
                with contextlib.suppress(OSError):
                    (parent / name).rmdir()
        return None

    def join_from_child(self) -> None:
        """Move the calling process into the cgroup (run in the child before exec)."""
        (self.path / "cgroup.procs").write_text(f"{os.getpid()}\n")

    def pids(self) -> list[int]:
        """Processes in the cgroup now."""
        try:
            text = (self.path / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def remove(self) -> bool:
        """Remove the (empty) cgroup; False while processes remain."""
        try:
            self.path.rmdir()
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return True
