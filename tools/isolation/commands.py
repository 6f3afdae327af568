"""The command line that applies a tier, and what the bootstrap applies by itself.

`bwrap_command` builds the sandbox's filesystem from read-only binds; `unshare_command`
only makes the namespaces, and `unshare_view` tells the bootstrap what to hide, re-expose
and mount in them; `landlock_paths` lists what Landlock allows; `describe` names what a
tier applies, for `ExecutionResult.isolation`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools.isolation.host import (
    DEVICES,
    HIDDEN_DIRS,
    KEYRING_FILES,
    READABLE,
    SECRET_FILES,
    SYSTEM_DIRS,
    application_dir,
    interpreter_dirs,
    is_root,
    under,
)
from tools.isolation.tiers import Tier, bwrap_namespaces, namespace_flags

# The capabilities bwrap leaves the bootstrap when started by root: just enough to hand
# the code its own uid (the code's process then drops them all).
ROOT_BOOTSTRAP_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP")


def bwrap_command(argv: Sequence[str], *, python: str, network: bool, disk_bytes: int) -> list[str]:
    """`argv` in a bwrap sandbox whose filesystem is built, not subtracted."""
    cmd = [shutil.which("bwrap") or "bwrap", *bwrap_namespaces(network)]
    cmd += ["--die-with-parent", "--new-session"]
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            cmd += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            cmd += ["--ro-bind", path, path]
    for secret in SECRET_FILES:
        if os.path.isfile(secret):
            cmd += ["--ro-bind", "/dev/null", secret]
    app = application_dir()
    if app and under(app, SYSTEM_DIRS):
        cmd += ["--tmpfs", app]
    if network:
        cmd += _resolver_binds()
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    for listing in KEYRING_FILES:
        if os.path.isfile(listing):
            cmd += ["--ro-bind", "/dev/null", listing]
    for private in ("/tmp", "/dev/shm"):
        cmd += ["--perms", "1777", "--size", str(disk_bytes), "--tmpfs", private]
    made: set[str] = set()
    for keep in interpreter_dirs(python):  # after /tmp: a venv may live there
        # bwrap would create the parents mode 0700, closed to the code's uid.
        for parent in reversed(Path(keep).parents):
            name = str(parent)
            if (
                name not in made
                and name not in ("/", "/tmp", "/dev", "/dev/shm")
                and not under(name, SYSTEM_DIRS)
            ):
                made.add(name)
                cmd += ["--perms", "0755", "--dir", name]
        cmd += ["--ro-bind", keep, keep]
    cmd += ["--remount-ro", "/dev", "--cap-drop", "ALL"]
    if is_root():
        for cap in ROOT_BOOTSTRAP_CAPS:
            cmd += ["--cap-add", cap]
    return [*cmd, "--chdir", "/tmp", "--", *argv]


def _resolver_binds() -> list[str]:
    """Where /etc/resolv.conf points outside /etc (e.g. /run/systemd), for DNS with network."""
    target = os.path.realpath("/etc/resolv.conf")
    if target.startswith("/etc/") or not os.path.exists(target):
        return []
    return ["--ro-bind", os.path.dirname(target), os.path.dirname(target)]


def unshare_command(argv: Sequence[str], *, network: bool) -> list[str]:
    """`argv` in new namespaces (the bootstrap then builds its view of the host)."""
    return [shutil.which("unshare") or "unshare", *namespace_flags(network), "--", *argv]


def unshare_view(python: str, disk_bytes: int) -> dict[str, Any]:
    """What the bootstrap hides, re-exposes, masks and mounts in the `unshare` tier."""
    hide = [d for d in HIDDEN_DIRS if os.path.isdir(d) and not os.path.islink(d)]
    app = application_dir()
    if app and app not in hide and not under(app, ("/tmp",)):
        hide.append(app)
    hide = [d for d in hide if not under(d, tuple(h for h in hide if h != d))]
    rebind = [d for d in interpreter_dirs(python) if under(d, (*hide, "/tmp", "/dev/shm"))]
    return {
        "hide": hide,
        "rebind": rebind,
        "mask": [f for f in (*SECRET_FILES, *KEYRING_FILES) if os.path.isfile(f)],
        "tmpfs": [["/tmp", disk_bytes], ["/dev/shm", disk_bytes]],
    }


def landlock_paths(tier: Tier, python: str, workdir: str) -> dict[str, list[str]]:
    """The only paths the code may use under Landlock: read, write, and devices.

    In the process tier /dev/shm is the host's: root's per-run uid may use it (what it
    leaves is found by owner and removed), an ordinary user's code may not (nothing
    would tell its files from the user's own).
    """
    read = [*SYSTEM_DIRS, *interpreter_dirs(python), *READABLE]
    if tier != "process":
        write = ["/tmp", "/dev/shm"]
    else:
        write = [workdir, "/dev/shm"] if is_root() else [workdir]
    return {"read": read, "write": write, "devices": list(DEVICES)}


def describe(tier: Tier, network: bool) -> tuple[str, ...]:
    """What a tier applies by itself, as reported in `ExecutionResult.isolation`.

    The bootstrap adds what the kernel let it apply (Landlock, seccomp, the unshare view).
    """
    base = ["own-session", "scrubbed-env", "no-caps", "no-new-privs", "dies-with-app"]
    base.append("per-run-uid" if is_root() else "same-uid-as-app")
    if tier == "bwrap":
        base += ["pid-namespace", "ipc-namespace", "built-fs", "hidden-home", "private-tmp"]
        base.append("tmpfs-workdir")
    elif tier == "unshare":
        base += ["pid-namespace", "ipc-namespace", "tmpfs-workdir"]
    else:
        base.append("host-workdir")
    if tier != "process":
        base.append("network" if network else "no-network")
    elif network:
        base.append("network")
    return (tier, *base)
