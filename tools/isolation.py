"""What isolation this machine offers the sandbox, and the command line that applies it.

Tiers, strongest first, detected at run time (`ORQUESTRA_SANDBOX=bwrap|unshare|process|auto`
picks one; `auto` is the strongest available, and a tier that is asked for but missing is
an error, never a silent fallback):

- `bwrap` (bubblewrap): new PID, network, IPC, UTS and mount namespaces over a filesystem
  *built* from read-only binds of the system directories and the interpreter, plus
  private, size-capped tmpfs for /tmp (the work dir lives there) and /dev/shm.
- `unshare` (util-linux): the same namespaces; the bootstrap makes the whole host
  read-only, lays tmpfs over /root, /home, /run, the application's directory and other
  places secrets live, and mounts private, size-capped /tmp and /dev/shm.
- `process`: no namespaces; the code runs in its own session under rlimits, Landlock and
  seccomp where the kernel has them. On Windows and macOS this is all there is.

In every tier the code itself runs without privileges (see `tools.bootstrap`): as root
the application gives each run its own unprivileged uid (`tools.identity`); the
namespace tools then run as root and hand the code that uid. As an ordinary user the
namespace tiers need unprivileged user namespaces.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

Tier = Literal["bwrap", "unshare", "process"]
IsolationRequest = Literal["auto", "bwrap", "unshare", "process"]
TIERS: tuple[Tier, ...] = ("bwrap", "unshare", "process")
# The setting that picks the tier when the caller asks for `auto` (the default).
SETTING = "ORQUESTRA_SANDBOX"

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
# Where users' and services' secrets live: hidden under `unshare` (never bound by bwrap).
HIDDEN_DIRS = ("/root", "/home", "/run", "/var/tmp", "/var/lib", "/srv", "/mnt", "/media", "/opt")
# Devices the code may open (read and write, no ioctl) under Landlock.
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
# Read-only places a Python program legitimately reads besides the interpreter.
READABLE = ("/proc", "/sys/devices/system/cpu")
# A probe must answer within this long, or the tier counts as unavailable.
PROBE_TIMEOUT_S = 10.0
# The capabilities bwrap leaves the bootstrap when started by root: just enough to hand
# the code its own uid (the code's process then drops them all).
ROOT_BOOTSTRAP_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP")


def is_root() -> bool:
    """Whether the application runs as root (the code then gets a per-run uid)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


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


def _namespace_flags(network: bool) -> list[str]:
    user = [] if is_root() else ["--user", "--map-root-user"]
    net = [] if network else ["--net"]
    return [*user, "--pid", "--fork", "--kill-child", "--mount-proc", "--ipc", "--uts", *net]


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
        if str(d) not in ("/", "/usr") and not _under(str(d), SYSTEM_DIRS) and os.path.isdir(d)
    }
    # Drop directories inside another one of the list: the outer bind covers them.
    return sorted((d for d in dirs if not _under(d, tuple(dirs - {d}))), key=len)


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _application_dir() -> str | None:
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
            *_bwrap_namespaces(network=False),
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
    if unshare and _probe([unshare, *_namespace_flags(network=False), "--"]):
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


def _bwrap_namespaces(network: bool) -> list[str]:
    flags = ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
    if not network:
        flags.append("--unshare-net")
    if not is_root():
        flags += ["--unshare-user", "--disable-userns"]
    return flags


def bwrap_command(argv: Sequence[str], *, python: str, network: bool, disk_bytes: int) -> list[str]:
    """`argv` in a bwrap sandbox whose filesystem is built, not subtracted."""
    cmd = [shutil.which("bwrap") or "bwrap", *_bwrap_namespaces(network)]
    cmd += ["--die-with-parent", "--new-session"]
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            cmd += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            cmd += ["--ro-bind", path, path]
    for secret in SECRET_FILES:
        if os.path.isfile(secret):
            cmd += ["--ro-bind", "/dev/null", secret]
    app = _application_dir()
    if app and _under(app, SYSTEM_DIRS):
        cmd += ["--tmpfs", app]
    if network:
        cmd += _resolver_binds()
    cmd += ["--proc", "/proc", "--dev", "/dev"]
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
                and not _under(name, SYSTEM_DIRS)
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
    return [shutil.which("unshare") or "unshare", *_namespace_flags(network), "--", *argv]


def unshare_view(python: str, disk_bytes: int) -> dict[str, Any]:
    """What the bootstrap hides, re-exposes, masks and mounts in the `unshare` tier."""
    hide = [d for d in HIDDEN_DIRS if os.path.isdir(d) and not os.path.islink(d)]
    app = _application_dir()
    if app and app not in hide and not _under(app, ("/tmp",)):
        hide.append(app)
    hide = [d for d in hide if not _under(d, tuple(h for h in hide if h != d))]
    rebind = [d for d in interpreter_dirs(python) if _under(d, (*hide, "/tmp", "/dev/shm"))]
    return {
        "hide": hide,
        "rebind": rebind,
        "mask": [f for f in SECRET_FILES if os.path.isfile(f)],
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
