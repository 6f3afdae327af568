"""The C library's memory calls (mmap, mincore, madvise), through ctypes, on Linux only.

Python's `mmap` module covers mappings it made itself; these calls also reach mappings
made by native code in this process (llama.cpp's mapped model weights).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

# madvise advice values (linux/mman.h). POPULATE_READ needs Linux 5.14 or later.
MADV_WILLNEED = 3
MADV_DONTNEED = 4
MADV_POPULATE_READ = 22


@functools.cache
def libc() -> ctypes.CDLL | None:
    """The C library with typed memory calls, or None off Linux or when it cannot load."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        lib = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:
        return None
    lib.mmap.restype = ctypes.c_void_p
    lib.mmap.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_long,
    ]
    lib.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_ubyte)]
    lib.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return lib
