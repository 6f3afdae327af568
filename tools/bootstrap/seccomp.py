"""seccomp: the BPF filter that denies user namespaces, TIOCSTI, io_uring, keyrings (sockets).

Part of the sandbox's bootstrap (see `tools.bootstrap`): standard library only. The
keyring calls (`add_key`, `request_key`, `keyctl`) fail with ENOSYS, as on a kernel built
without keys: a uid's keyrings outlive its processes, so the code of an ordinary user
could read the user's keys, and a run as root's per-run uid could leave keys behind for
a later run that draws the same uid (and use the application's session keyring, which
every process inherits).
"""

from __future__ import annotations

import ctypes
import errno

from tools.bootstrap.native import check, libc

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_JSET_K = 0x45
BPF_RET_K = 0x06
CLONE_NEWUSER = 0x10000000
TIOCSTI = 0x5412
AF_UNIX = 1
X32_SYSCALL_BIT = 0x40000000
# seccomp_data: nr at 0, arch at 4, args from 16 (8 bytes each, low half first).
ARG_OFFSET = 16
# Per architecture: its audit id and the syscall numbers the filter looks at.
SYSCALLS = {
    "x86_64": {
        "arch": 0xC000003E,
        "socket": 41,
        "clone": 56,
        "unshare": 272,
        "ioctl": 16,
        "clone3": 435,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "add_key": 248,
        "request_key": 249,
        "keyctl": 250,
    },
    "aarch64": {
        "arch": 0xC00000B7,
        "socket": 198,
        "clone": 220,
        "unshare": 97,
        "ioctl": 29,
        "clone3": 435,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "add_key": 217,
        "request_key": 218,
        "keyctl": 219,
    },
}


class _SockFilter(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    )


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter)))


def _deny_if(arg: int, test: int, value: int, err: int) -> list[tuple[int, int, int, int]]:
    """Load argument `arg`; deny with `err` when `test` (JEQ or JSET) matches `value`."""
    return [
        (BPF_LD_W_ABS, 0, 0, ARG_OFFSET + 8 * arg),
        (test, 0, 1, value),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | err),
        (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ]


def seccomp_program(machine: str, inet: bool) -> tuple[list[tuple[int, int, int, int]], list[str]]:
    """The filter for this architecture: no new user namespaces, TIOCSTI, io_uring, keyring.

    Without `inet` (no network and no network namespace) only AF_UNIX sockets may be made.
    Returns the BPF program (empty where the architecture is not known) and its tags.
    """
    nr = SYSCALLS.get(machine)
    if nr is None:
        return [], []
    deny_enosys = (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS)
    program = [(BPF_LD_W_ABS, 0, 0, 4), (BPF_JEQ_K, 1, 0, nr["arch"]), deny_enosys]
    program.append((BPF_LD_W_ABS, 0, 0, 0))
    if machine == "x86_64":  # the x32 ABI is another door to the same calls
        program += [(BPF_JGE_K, 0, 1, X32_SYSCALL_BIT), deny_enosys]
    rules = [
        # clone3 hides its flags in memory the filter cannot read; glibc falls back to clone.
        (nr["clone3"], [deny_enosys]),
        (nr["clone"], _deny_if(0, BPF_JSET_K, CLONE_NEWUSER, errno.EPERM)),
        (nr["unshare"], _deny_if(0, BPF_JSET_K, CLONE_NEWUSER, errno.EPERM)),
        (nr["ioctl"], _deny_if(1, BPF_JEQ_K, TIOCSTI, errno.EPERM)),
        (nr["io_uring_setup"], [(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM)]),
        (nr["io_uring_enter"], [(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM)]),
        (nr["io_uring_register"], [(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM)]),
        (nr["add_key"], [deny_enosys]),
        (nr["request_key"], [deny_enosys]),
        (nr["keyctl"], [deny_enosys]),
    ]
    tags = ["seccomp-no-userns", "seccomp-no-tiocsti", "seccomp-no-io-uring", "seccomp-no-keyring"]
    if not inet:
        unix_only = [
            (BPF_LD_W_ABS, 0, 0, ARG_OFFSET),
            (BPF_JEQ_K, 1, 0, AF_UNIX),
            (BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EACCES),
            (BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        ]
        rules.append((nr["socket"], unix_only))
        tags.append("seccomp-unix-sockets-only")
    for number, body in rules:
        program.append((BPF_JEQ_K, 0, len(body), number))
        program += body
    program.append((BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    return program, tags


def install_seccomp(program: list[tuple[int, int, int, int]]) -> None:
    """Load the filter into this process (needs no_new_privs); inherited by every child."""
    if not program:
        return
    filters = (_SockFilter * len(program))(*(_SockFilter(*op) for op in program))
    prog = _SockFprog(len(program), filters)
    check(
        libc().prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0),
        "seccomp",
    )
