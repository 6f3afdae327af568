"""The `unshare` tier's view of the host: secrets hidden, everything read-only, private tmpfs.

Part of the sandbox's bootstrap (see `tools.bootstrap`): standard library only. It runs
in the sandbox's own mount namespace, while the bootstrap still holds the user
namespace's capabilities.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from typing import Any

from tools.bootstrap.native import check, libc

# mount(2) flags and mount_setattr(2) (one number on every architecture).
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
SYS_MOUNT_SETATTR = 442
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
# Size of the tmpfs laid over a hidden directory (it only holds mount points).
HIDE_TMPFS_OPTIONS = "size=64k,mode=755"


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    check(
        libc().mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


class _MountAttr(ctypes.Structure):
    _fields_ = (
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    )


def build_unshare_view(plan: dict[str, Any]) -> list[str]:
    """In a private mount namespace: hide, re-expose, make all read-only, add tmpfs.

    Returns what it achieved, for `ExecutionResult.isolation`.
    """
    done = []
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    keep = {}
    for path in plan["rebind"]:
        with contextlib.suppress(OSError):
            keep[path] = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    tmpfs_targets = tuple(target for target, _ in plan["tmpfs"])
    for hidden in plan["hide"]:
        _mount("tmpfs", hidden, "tmpfs", MS_NOSUID | MS_NODEV, HIDE_TMPFS_OPTIONS)
    later = {p: fd for p, fd in keep.items() if _within(p, tmpfs_targets)}
    for path, fd in keep.items():
        if path not in later:
            _rebind(fd, path)
    for secret in plan["mask"]:
        with contextlib.suppress(OSError):
            _mount("/dev/null", secret, None, MS_BIND)
    if plan["hide"]:
        done.append("hidden-home")
    if _read_only("/", recursive=True):
        done.append("read-only-host")
    for target, size in plan["tmpfs"]:
        _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777")
    done.append("private-tmp")
    for path, fd in later.items():  # an interpreter under /tmp: back, read-only, on top
        _rebind(fd, path)
        _read_only(path, recursive=True)
    return done


def _within(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root + "/") for root in roots)


def _rebind(fd: int, path: str) -> None:
    os.makedirs(path, exist_ok=True)
    _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
    os.close(fd)


def _read_only(path: str, *, recursive: bool) -> bool:
    attr = _MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0)
    flags = AT_RECURSIVE if recursive else 0
    result = libc().syscall(
        SYS_MOUNT_SETATTR, -100, path.encode(), flags, ctypes.byref(attr), ctypes.sizeof(attr)
    )
    return bool(result == 0)
