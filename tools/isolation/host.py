"""The host's paths as the sandbox sees them: system dirs, secrets, the interpreter's dirs.

What the isolation tiers bind read-only, hide, mask or let Landlock allow, and whether
a fresh unprivileged uid can run the interpreter at all.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# Read-only in the sandbox (those that exist); symlinks (merged /usr) stay symlinks.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
# Files of the system directories that hold secrets: masked even where they are readable.
SECRET_FILES = (
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/shadow-",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/security/opasswd",
)
# The kernel keyring's listings (the names of the keys a uid may view): masked in the
# namespace tiers; the process tier has no mount namespace to mask them in.
KEYRING_FILES = ("/proc/keys", "/proc/key-users")
# Where users' and services' secrets live: hidden under `unshare` (never bound by bwrap).
HIDDEN_DIRS = ("/root", "/home", "/run", "/var/tmp", "/var/lib", "/srv", "/mnt", "/media", "/opt")
# Devices the code may open (read and write, no ioctl) under Landlock.
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
# Read-only places a Python program legitimately reads besides the interpreter.
READABLE = ("/proc", "/sys/devices/system/cpu")


def is_root() -> bool:
    """Whether the application runs as root (the code then gets a per-run uid)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _others_can_read(path: str) -> bool:
    """Whether a user with no relation to the file's owner can reach and read `path`."""
    current = Path(path)
    try:
        current = current.resolve(strict=True)
    except OSError:
        return False
    for part in [current, *current.parents]:
        try:
            mode = part.stat().st_mode
        except OSError:
            return False
        needed = 0o005 if part.is_dir() else 0o004
        if part != current and not mode & 0o001:
            return False
        if part == current and mode & needed != needed:
            return False
    return True


def interpreter_dirs(python: str) -> list[str]:
    """Directories the interpreter needs, outside the system directories, shortest first."""
    exe = Path(python)
    candidates = {exe.parent.parent}
    for holder in (exe.parent, exe.parent.parent):
        cfg = holder / "pyvenv.cfg"
        try:
            for line in cfg.read_text().splitlines():
                key, _, value = line.partition("=")
                if key.strip() == "home":
                    candidates.add(Path(value.strip()).parent)
        except OSError:
            continue
    if python == sys.executable:
        candidates |= {Path(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    with contextlib.suppress(OSError):
        candidates.add(exe.resolve().parent.parent)
    dirs = {
        str(d)
        for d in candidates
        if str(d) not in ("/", "/usr") and not under(str(d), SYSTEM_DIRS) and os.path.isdir(d)
    }
    # Drop directories inside another one of the list: the outer bind covers them.
    return sorted((d for d in dirs if not under(d, tuple(dirs - {d}))), key=len)


def under(path: str, roots: Sequence[str]) -> bool:
    """Whether `path` is one of `roots` or inside one of them."""
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def application_dir() -> str | None:
    """The application's working directory, if it is a place worth hiding."""
    try:
        cwd = os.getcwd()
    except OSError:
        return None
    if cwd == "/" or cwd in SYSTEM_DIRS or any(d.startswith(cwd + "/") for d in SYSTEM_DIRS):
        return None
    return cwd


def interpreter_readable(python: str) -> bool:
    """Whether a fresh unprivileged uid can run `python` and read its standard library."""
    return _others_can_read(python) and all(_others_can_read(d) for d in interpreter_dirs(python))
