"""Reading a model's weights into the OS page cache before the swap that needs them.

The graph knows which model comes next (a plan with code steps needs the executor; code
being run will be followed by the brain's reflection), so the next model's weights file
can be read while the current node works: the swap then loads from RAM, not from disk.
Reads are bounded by the memory the kernel reports as available, minus a reserve.
Everything here blocks: call it from a worker thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import time
from dataclasses import dataclass
from pathlib import Path

from orquestra.libc import libc as c_library

READ_CHUNK = 8 * 1024 * 1024
PAGE = mmap.PAGESIZE
# A file this share of which is in the page cache already is not read again.
ALREADY_CACHED_FRACTION = 0.99


@dataclass(frozen=True)
class WarmResult:
    """What a prefetch did."""

    path: str
    bytes_read: int
    seconds: float
    limited: bool
    """True when available memory allowed only part of the file."""
    already_cached: bool = False
    """True when the file was in the page cache already, so nothing was read."""


def available_memory() -> int | None:
    """Bytes the kernel reports as available (MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def cached_fraction(path: Path) -> float | None:
    """Share of the file's pages in the page cache now (mincore), or None where unknown."""
    libc = c_library()
    if libc is None:
        return None
    try:
        size = path.stat().st_size
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    if size == 0:
        os.close(fd)
        return 1.0
    try:
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            return None
        try:
            pages = (size + PAGE - 1) // PAGE
            vec = (ctypes.c_ubyte * pages)()
            if libc.mincore(addr, size, vec) != 0:
                return None
            # mincore sets one byte per page, 1 when resident: count the zeros at C speed.
            return (pages - bytes(vec).count(0)) / pages
        finally:
            libc.munmap(addr, size)
    finally:
        os.close(fd)


def warm(path: Path, *, reserve_bytes: int) -> WarmResult:
    """Read `path` into the page cache, as far as available memory minus `reserve_bytes` allows."""
    start = time.perf_counter()
    size = path.stat().st_size
    if (cached_fraction(path) or 0.0) >= ALREADY_CACHED_FRACTION:
        return WarmResult(str(path), 0, round(time.perf_counter() - start, 4), False, True)
    available = available_memory()
    budget = size if available is None else max(min(size, available - reserve_bytes), 0)
    done = 0
    with path.open("rb", buffering=0) as fh:
        fd = fh.fileno()
        if hasattr(os, "posix_fadvise"):
            with contextlib.suppress(OSError):
                os.posix_fadvise(fd, 0, budget, os.POSIX_FADV_WILLNEED)
                os.posix_fadvise(fd, 0, budget, os.POSIX_FADV_SEQUENTIAL)
        buffer = bytearray(READ_CHUNK)
        view = memoryview(buffer)
        while done < budget:
            n = fh.readinto(view[: min(READ_CHUNK, budget - done)])
            if not n:
                break
            done += n
    return WarmResult(str(path), done, round(time.perf_counter() - start, 4), budget < size)


def evict(path: Path) -> None:
    """Ask the kernel to drop the file's clean pages from the page cache (benchmarks)."""
    if not hasattr(os, "posix_fadvise"):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):
            os.fdatasync(fd)  # dirty pages (a file just written) are not dropped otherwise
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
