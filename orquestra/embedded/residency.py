"""Give a memory-mapped weights file's pages back, and map them in again, without reloading.

llama.cpp maps a GGUF file read-only and shared when it loads with mmap. Releasing that
mapping's pages (madvise DONTNEED) takes the weights out of the process's memory at once,
while the model's metadata, tokenizer and context stay; populating it again (madvise
POPULATE_READ) maps the pages back from the page cache, which costs about what reading the
file from the page cache costs. That is a swap without llama.cpp's load work. Linux only;
elsewhere `find_mapping` returns None and callers close and reopen the model instead.
Everything here blocks: call it from a worker thread.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path

from orquestra.libc import MADV_DONTNEED, MADV_POPULATE_READ, MADV_WILLNEED, libc

PROC_MAPS = Path("/proc/self/maps")


@dataclass(frozen=True)
class Mapping:
    """The address ranges where this process maps one file, read-only."""

    path: str
    ranges: tuple[tuple[int, int], ...]
    """(start address, length in bytes) per mapped range."""

    @property
    def size(self) -> int:
        """Mapped bytes in all ranges."""
        return sum(length for _, length in self.ranges)


def parse_maps(text: str, path: str) -> tuple[tuple[int, int], ...] | None:
    """Ranges of `path` in a /proc/<pid>/maps text; None when any of them is writable.

    A writable (private, copy-on-write) range may hold changes that releasing would lose,
    so such a file is never released.
    """
    ranges: list[tuple[int, int]] = []
    for line in text.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or fields[5] != path:
            continue
        if "w" in fields[1]:
            return None
        start, end = (int(x, 16) for x in fields[0].split("-"))
        ranges.append((start, end - start))
    return tuple(ranges)


def find_mapping(path: Path) -> Mapping | None:
    """This process's read-only mapping of `path`, or None (not mapped, writable, not Linux)."""
    if libc() is None:
        return None
    real = os.path.realpath(path)
    try:
        text = PROC_MAPS.read_text()
    except OSError:
        return None
    ranges = parse_maps(text, real)
    return Mapping(real, ranges) if ranges else None


def _advise(mapping: Mapping, advice: int) -> bool:
    lib = libc()
    if lib is None:
        return False
    ok = True
    for start, length in mapping.ranges:
        if lib.madvise(ctypes.c_void_p(start), length, advice) != 0:
            ok = False
    return ok


def release(mapping: Mapping) -> bool:
    """Drop the mapping's pages from this process (they stay in the page cache)."""
    return _advise(mapping, MADV_DONTNEED)


def populate(mapping: Mapping) -> bool:
    """Map every page in again now; before Linux 5.14, start reading them ahead instead."""
    if _advise(mapping, MADV_POPULATE_READ):
        return True
    _advise(mapping, MADV_WILLNEED)  # pages then fault in on first use
    return False
