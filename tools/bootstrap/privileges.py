"""Losing every privilege for good (uid, capabilities, no_new_privs, keyring); killing a uid.

Part of the sandbox's bootstrap (see `tools.bootstrap`): standard library only. The
application uses `kill_uid` too.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal

from tools.bootstrap.native import (
    LINUX_CAPABILITY_VERSION_3,
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_CLEAR_ALL,
    PR_CAPBSET_DROP,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_SECUREBITS,
    SECUREBITS_NO_ROOT,
    check,
    libc,
    set_process_attribute,
)
from tools.bootstrap.seccomp import SYSCALLS

# keyctl(2) operation: make a new, empty session keyring and make it this process's.
KEYCTL_JOIN_SESSION_KEYRING = 1


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def _status_caps() -> dict[str, int]:
    caps = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Cap"):
                name, value = line.split(":")
                caps[name] = int(value, 16)
    return caps


def _drop_bounding_set() -> None:
    with open("/proc/sys/kernel/cap_last_cap") as last:
        last_cap = int(last.read())
    for cap in range(last_cap + 1):
        with contextlib.suppress(OSError):  # EPERM without CAP_SETPCAP: nothing left to drop
            set_process_attribute(PR_CAPBSET_DROP, cap)


def drop_privileges(uid: int | None, gid: int | None) -> None:
    """Become `uid`/`gid` (when given) with no capabilities at all, for good.

    Raises:
        OSError: A capability is still held afterwards (the code must not run then).
    """
    caps = _status_caps()
    if caps.get("CapEff", 0):
        with contextlib.suppress(OSError):  # only a user namespace's root gets this far
            set_process_attribute(PR_SET_SECUREBITS, SECUREBITS_NO_ROOT)
        _drop_bounding_set()
        with contextlib.suppress(OSError):
            set_process_attribute(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    if uid is not None and gid is not None:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    check(libc().capset(ctypes.byref(header), data), "capset")
    set_process_attribute(PR_SET_NO_NEW_PRIVS, 1)
    left = _status_caps()
    if left.get("CapEff") or left.get("CapPrm") or left.get("CapAmb"):
        raise OSError(errno.EPERM, f"capabilities still held: {left}")
    leave_session_keyring()


def leave_session_keyring() -> None:
    """Give this process a new, empty session keyring in place of the inherited one.

    Every process inherits its parent's session keyring and holds what is in it (the
    application's keys, to a per-run uid too). Best effort: where the kernel has no
    keyrings, or the uid's key quota is full, the inherited one stays, and the seccomp
    filter is what keeps the code from using it.
    """
    numbers = SYSCALLS.get(os.uname().machine)
    if numbers is not None:
        libc().syscall(numbers["keyctl"], KEYCTL_JOIN_SESSION_KEYRING, None)


def kill_uid(uid: int) -> None:
    """SIGKILL every process of `uid` (root only): a child becomes `uid` and kills -1.

    kill(-1) reaches every process the sender may signal, and a process running as
    `uid` may signal exactly the processes of `uid`; no pid is ever looked up.
    """
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
