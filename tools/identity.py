"""Who sandboxed code runs as: its own unprivileged uid per run when the application is root.

Root's code must never keep root: it would read /etc/shadow, signal any process, write any
file, remount, change kernel settings. So a root application gives every run a fresh uid
and gid from a reserved range that no account and no running process uses. That uid owns
nothing on the host, can signal only the run's own processes (which is how a run is
killed: `tools.bootstrap.kill_uid`), and counts exactly the run's processes for
RLIMIT_NPROC. An ordinary user's code keeps the user's uid; the namespace tiers and
Landlock are what stand between it and the user's files.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

# The reserved range: above the ranges distributions and systemd hand out to accounts,
# dynamic users and containers, below 2^31 (which some tools mishandle).
RUN_ID_BASE = 0x7A000000
RUN_ID_SPAN = 1 << 16
# Where the kernel maps this process's ids (a container may map only a few).
UID_MAP = Path("/proc/self/uid_map")
# Tries before giving up on finding an unused id (each is a random pick).
PICK_TRIES = 64


@dataclass(frozen=True)
class RunIdentity:
    """The uid and gid one run's code gets (the same number for both)."""

    uid: int
    gid: int


def _mapped_range() -> tuple[int, int]:
    """The [start, end) of ids to pick from: the reserved range, or the top of the map."""
    extents: list[tuple[int, int]] = []
    with contextlib.suppress(OSError, ValueError):
        for line in UID_MAP.read_text().splitlines():
            inside, _, count = (int(x) for x in line.split())
            extents.append((inside, inside + count))
    if not extents:
        return RUN_ID_BASE, RUN_ID_BASE + RUN_ID_SPAN
    for start, end in extents:
        if start <= RUN_ID_BASE and end >= RUN_ID_BASE + RUN_ID_SPAN:
            return RUN_ID_BASE, RUN_ID_BASE + RUN_ID_SPAN
    start, end = max(extents, key=lambda e: e[1] - e[0])
    span = min(RUN_ID_SPAN, (end - start) // 4)
    return end - span - 2, end - 2  # the last ids are often nobody/nogroup


def _ids_in_use() -> set[int]:
    """Real uids of running processes (to stay clear of them; never used to kill)."""
    used = set()
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    used.add(entry.stat().st_uid)
    return used


def _has_account(uid: int) -> bool:
    import grp
    import pwd

    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        pass
    try:
        grp.getgrgid(uid)
        return True
    except KeyError:
        return False


def new_run_identity() -> RunIdentity | None:
    """A fresh uid/gid for one run when the application is root; None otherwise."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    start, end = _mapped_range()
    used = _ids_in_use()
    for _ in range(PICK_TRIES):
        pick = start + secrets.randbelow(end - start)
        if pick not in used and not _has_account(pick):
            return RunIdentity(pick, pick)
    raise OSError(f"no unused uid found in {start}..{end} for the sandbox")
