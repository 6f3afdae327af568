"""Which isolation tiers this machine offers (probed once), and which one a run gets.

`auto` (or nothing) defers to the `ORQUESTRA_SANDBOX` setting, else takes the strongest
tier available; a tier that is asked for but missing is an error, never a fallback.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from typing import Literal

from tools.isolation.host import interpreter_readable, is_root

Tier = Literal["bwrap", "unshare", "process"]
IsolationRequest = Literal["auto", "bwrap", "unshare", "process"]
TIERS: tuple[Tier, ...] = ("bwrap", "unshare", "process")
# The setting that picks the tier when the caller asks for `auto` (the default).
SETTING = "ORQUESTRA_SANDBOX"
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


def namespace_flags(network: bool) -> list[str]:
    """Namespace options for unshare (a user namespace unless root; no network unless asked)."""
    user = [] if is_root() else ["--user", "--map-root-user"]
    net = [] if network else ["--net"]
    return [*user, "--pid", "--fork", "--kill-child", "--mount-proc", "--ipc", "--uts", *net]


@functools.cache
def available_tiers(python: str | None = None) -> tuple[Tier, ...]:
    """The tiers that work here for this identity and interpreter, strongest first.

    Probed once per process (and interpreter). As root the process tier needs an
    interpreter that an unprivileged uid can read, since that is what the code runs as.
    """
    python = python or sys.executable
    if not sys.platform.startswith("linux"):
        return ("process",)
    tiers: list[Tier] = []
    bwrap = shutil.which("bwrap")
    # The probe uses every option the sandbox needs: an older bwrap lacking one is no tier.
    if bwrap and _probe(
        [
            bwrap,
            *bwrap_namespaces(network=False),
            "--ro-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--perms",
            "1777",
            "--size",
            "1048576",
            "--tmpfs",
            "/tmp",
            "--die-with-parent",
            "--",
        ]
    ):
        tiers.append("bwrap")
    unshare = shutil.which("unshare")
    if unshare and _probe([unshare, *namespace_flags(network=False), "--"]):
        tiers.append("unshare")
    if not is_root() or interpreter_readable(python):
        tiers.append("process")
    return tuple(tiers)


def requested_tier(isolation: str | None) -> str:
    """The caller's request, where `auto` (or nothing) defers to ORQUESTRA_SANDBOX."""
    if isolation in (None, "auto"):
        return os.environ.get(SETTING, "").strip().lower() or "auto"
    return isolation


def choose_tier(requested: str | None, python: str | None = None) -> Tier:
    """The tier to use: the strongest available for `auto`, else exactly the one asked for.

    Raises:
        ValueError: The requested tier is not known or not available here (says why).
    """
    wanted = requested_tier(requested)
    tiers = available_tiers(python or sys.executable)
    if wanted not in ("auto", *TIERS):
        raise ValueError(
            f"isolation must be one of auto, {', '.join(TIERS)} (argument or {SETTING}); "
            f"got {wanted!r}"
        )
    if wanted == "auto":
        if not tiers:
            raise ValueError(_unavailable("process", python))
        return tiers[0]
    if wanted not in tiers:
        available = ", ".join(tiers) or "none"
        raise ValueError(f"{_unavailable(wanted, python)}; available: {available}")
    return wanted


def _unavailable(tier: str, python: str | None) -> str:
    if tier == "process" and is_root():
        return (
            f"isolation 'process' is not available: as root it runs the code as an unprivileged "
            f"uid, which cannot read the interpreter {python or sys.executable} (install Python "
            f"outside /root, or use bwrap/unshare)"
        )
    hint = "apt-get install bubblewrap" if tier == "bwrap" else "util-linux's unshare"
    who = "" if is_root() else " and unprivileged user namespaces"
    return f"isolation {tier!r} is not available on this machine (needs {hint}{who})"


def bwrap_namespaces(network: bool) -> list[str]:
    """Namespace options for bwrap (a user namespace unless root; no network unless asked)."""
    flags = ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
    if not network:
        flags.append("--unshare-net")
    if not is_root():
        flags += ["--unshare-user", "--disable-userns"]
    return flags
