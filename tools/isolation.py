"""What isolation this machine offers the sandbox, and the command line that applies it.

Tiers, strongest first, detected at run time:

- `bwrap` (Debian's bubblewrap): new PID, network, IPC and UTS namespaces, a read-only
  view of the host with home directories hidden, a private /tmp, capabilities dropped.
  When its PID namespace ends, the kernel kills everything left in it.
- `unshare` (util-linux): new PID and network namespaces (and a user namespace when not
  root); no read-only view of the host.
- `process`: a child process in its own session and process group, nothing more. On
  Windows and macOS this is all there is.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

Tier = Literal["bwrap", "unshare", "process"]
IsolationRequest = Literal["auto", "bwrap", "unshare", "process"]
TIERS: tuple[Tier, ...] = ("bwrap", "unshare", "process")

# Directories that hold users' secrets (keys, tokens, dotfiles), hidden under bwrap.
HIDDEN_DIRS = ("/root", "/home", "/run", "/var/run", "/var/tmp", "/tmp")
# A probe must answer within this long, or the tier counts as unavailable.
PROBE_TIMEOUT_S = 10.0


def _probe(argv: Sequence[str]) -> bool:
    try:
        done = subprocess.run(
            [*argv, "true"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _unshare_flags() -> list[str]:
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return [*user, "--pid", "--fork", "--kill-child", "--mount-proc", "--net"]


@functools.cache
def available_tiers() -> tuple[Tier, ...]:
    """The tiers that work on this machine, strongest first (probed once per process)."""
    if not sys.platform.startswith("linux"):
        return ("process",)
    tiers: list[Tier] = []
    bwrap = shutil.which("bwrap")
    if bwrap and _probe(
        [
            bwrap,
            "--ro-bind",
            "/",
            "/",
            "--unshare-all",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--die-with-parent",
            "--",
        ]
    ):
        tiers.append("bwrap")
    unshare = shutil.which("unshare")
    if unshare and _probe([unshare, *_unshare_flags(), "--"]):
        tiers.append("unshare")
    tiers.append("process")
    return tuple(tiers)


def choose_tier(requested: IsolationRequest) -> Tier:
    """The tier to use: the strongest available for `auto`, else exactly the one asked for.

    Raises:
        ValueError: The requested tier is not available here (the message says why).
    """
    tiers = available_tiers()
    if requested == "auto":
        return tiers[0]
    if requested not in TIERS:
        raise ValueError(f"isolation must be one of auto, {', '.join(TIERS)}; got {requested!r}")
    if requested not in tiers:
        hint = "apt-get install bubblewrap" if requested == "bwrap" else "util-linux's unshare"
        raise ValueError(
            f"isolation {requested!r} is not available on this machine (needs {hint} and "
            f"permission to create namespaces); available: {', '.join(tiers)}"
        )
    return requested


def _interpreter_dirs(python: str) -> list[str]:
    """Directories the interpreter needs, so they stay visible when HIDDEN_DIRS are hidden."""
    dirs = {sys.prefix, sys.base_prefix, str(Path(python).resolve().parent.parent)}
    return sorted(d for d in dirs if any(d == h or d.startswith(h + "/") for h in HIDDEN_DIRS))


def wrap_command(
    tier: Tier, argv: Sequence[str], *, workdir: str, python: str, network: bool
) -> list[str]:
    """Return `argv` wrapped in the tier's isolation."""
    if tier == "process":
        return list(argv)
    if tier == "unshare":
        flags = _unshare_flags()
        if network:
            flags.remove("--net")
        return [shutil.which("unshare") or "unshare", *flags, "--", *argv]
    cmd = [
        shutil.which("bwrap") or "bwrap",
        "--die-with-parent",
        "--new-session",
        "--unshare-all",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
    ]
    if network:
        cmd.append("--share-net")
    for hidden in HIDDEN_DIRS:
        if Path(hidden).is_dir() and not Path(hidden).is_symlink():
            cmd += ["--tmpfs", hidden]
    for keep in _interpreter_dirs(python):
        cmd += ["--ro-bind", keep, keep]
    cmd += ["--bind", workdir, workdir, "--chdir", workdir, "--cap-drop", "ALL", "--", *argv]
    return cmd


def describe(tier: Tier, network: bool) -> tuple[str, ...]:
    """The isolation a tier applies, as reported in `ExecutionResult.isolation`."""
    base = ("own-session", "process-group-kill", "scrubbed-env", "temp-workdir")
    extra: tuple[str, ...]
    if tier == "bwrap":
        extra = ("pid-namespace", "read-only-host", "hidden-home", "private-tmp", "no-caps")
    elif tier == "unshare":
        extra = ("pid-namespace",)
    else:
        extra = ()
    net = () if network or tier == "process" else ("no-network",)
    return (tier, *base, *extra, *net)
