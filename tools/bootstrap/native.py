"""The C library and prctl(2), as the bootstrap's other modules call them.

Part of the sandbox's bootstrap (see `tools.bootstrap`): standard library only.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

# prctl(2) options.
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
# Securebits: uid 0 gets no capabilities on exec, uid changes never fix capabilities up,
# capabilities are never kept or raised into the ambient set; every bit locked.
SECUREBITS_NO_ROOT = 0xEF
LINUX_CAPABILITY_VERSION_3 = 0x20080522


_libc: Any = None


def libc() -> Any:
    """The C library, loaded once (Linux only)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc


def check(result: int, what: str) -> int:
    """`result` of a C call; OSError with errno's message when it is negative."""
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def set_process_attribute(option: int, arg: int = 0) -> None:
    """Set one attribute of the calling process (prctl), raising OSError on failure."""
    check(libc().prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")
