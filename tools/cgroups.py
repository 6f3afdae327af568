"""A cgroup per sandbox run: total memory, process count, and one-shot killing.

Where cgroups are writable (root, or a delegated cgroup v2 subtree), every process of a
run, the namespace tools included, lives in the run's cgroup:

- memory: `memory.max` (v2) or `memory.limit_in_bytes` (v1) caps the run's *total*
  memory, tmpfs pages included (they are charged to the writer's cgroup);
- pids: `pids.max` caps the processes and threads of the run together;
- killing: `cgroup.kill` (v2, also on hybrid machines where the v2 hierarchy carries no
  controllers), else freeze with the v1 freezer, SIGKILL the frozen members, thaw. No
  pid is taken from a /proc scan.

The cgroup is created under the application's own cgroup in each hierarchy, so limits
set on the application (a container, a systemd unit) still apply to its sandboxes. Where
nothing is writable, `RunCgroup.create` returns None and the sandbox falls back to
rlimits and its memory watchdog (`tools.memory`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tools.processes import pid_alive

CGROUP_PREFIX = "orquestra-sandbox-"
# Processes of a run besides the code's own: bwrap's two, the bootstrap, slack for a probe.
OVERHEAD_PIDS = 4
# How long to wait for the v1 freezer to report FROZEN before killing anyway.
FREEZE_WAIT_S = 0.2
FREEZE_POLL_S = 0.002
MOUNTINFO = Path("/proc/self/mountinfo")
SELF_CGROUP = Path("/proc/self/cgroup")


def _mounts() -> tuple[Path | None, dict[str, Path]]:
    """The cgroup v2 mount point, and the v1 mount point of each controller."""
    v2: Path | None = None
    v1: dict[str, Path] = {}
    with contextlib.suppress(OSError):
        for line in MOUNTINFO.read_text().splitlines():
            left, _, right = line.partition(" - ")
            fields, extra = left.split(), right.split()
            if len(fields) < 5 or len(extra) < 3:
                continue
            point, fstype, options = Path(fields[4]), extra[0], extra[2].split(",")
            if fstype == "cgroup2" and v2 is None:
                v2 = point
            elif fstype == "cgroup":
                for controller in ("memory", "pids", "freezer"):
                    if controller in options:
                        v1.setdefault(controller, point)
    return v2, v1


def _own_paths() -> tuple[str | None, dict[str, str]]:
    """This process's cgroup path in v2, and in each v1 controller's hierarchy."""
    v2: str | None = None
    v1: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in SELF_CGROUP.read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers == "":
                v2 = path
            for controller in controllers.split(","):
                v1[controller] = path
    return v2, v1


def _make(parent: Path, name: str) -> Path | None:
    path = parent / name
    try:
        path.mkdir()
    except OSError:
        return None
    return path


def _write(path: Path, value: str) -> bool:
    try:
        path.write_text(value)
    except OSError:
        return False
    return True


def _read_counter(path: Path, key: str) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0


@dataclass
class RunCgroup:
    """The cgroup directories (one per hierarchy) of one run."""

    dirs: list[Path] = field(default_factory=list)
    memory_v2: Path | None = None
    memory_v1: Path | None = None
    pids: Path | None = None
    freezer: Path | None = None
    kill_file: Path | None = None

    @classmethod
    def create(cls, memory_mb: int, max_processes: int) -> RunCgroup | None:
        """A cgroup with these limits, or None where no cgroup can be created here."""
        v2_mount, v1_mounts = _mounts()
        v2_own, v1_own = _own_paths()
        name = f"{CGROUP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}"
        group = cls()
        memory_bytes = memory_mb * 1024 * 1024
        pids = str(max_processes + OVERHEAD_PIDS)
        if v2_mount is not None and v2_own is not None:
            group._create_v2(v2_mount, v2_own, name, memory_bytes, pids)
        for controller in ("memory", "pids", "freezer"):
            if controller not in v1_mounts or controller not in v1_own:
                continue
            if controller == "memory" and group.memory_v2 is not None:
                continue
            if controller == "pids" and group.pids is not None:
                continue
            if controller == "freezer" and group.kill_file is not None:
                continue
            parent = v1_mounts[controller] / v1_own[controller].lstrip("/")
            path = _make(parent, name)
            if path is None:
                continue
            group.dirs.append(path)
            if controller == "memory":
                if _write(path / "memory.limit_in_bytes", str(memory_bytes)):
                    group.memory_v1 = path
                    _write(path / "memory.memsw.limit_in_bytes", str(memory_bytes))
            elif controller == "pids":
                if _write(path / "pids.max", pids):
                    group.pids = path
            else:
                group.freezer = path
        if not group.dirs:
            return None
        if group.kill_file is None and group.freezer is None and group.pids is None:
            group.remove()  # a cgroup that can neither limit nor kill is no use
            return None
        return group

    def _create_v2(self, mount: Path, own: str, name: str, memory_bytes: int, pids: str) -> None:
        own_dir = mount / own.lstrip("/")
        parents = [own_dir]
        if os.geteuid() == 0 and own_dir != mount:
            parents.append(mount)  # the root cgroup may hold processes and controllers
        chosen: Path | None = None
        for parent in parents:
            enabled = _enable_controllers(parent)
            if {"memory", "pids"} <= enabled:
                chosen = parent
                break
        # Without controllers a v2 cgroup still gives cgroup.kill.
        path = _make(chosen or own_dir, name)
        if path is None:
            return
        self.dirs.append(path)
        if (path / "cgroup.kill").exists():
            self.kill_file = path / "cgroup.kill"
        if chosen is not None:
            if _write(path / "memory.max", str(memory_bytes)):
                self.memory_v2 = path
                _write(path / "memory.swap.max", "0")
                _write(path / "memory.oom.group", "1")
            if _write(path / "pids.max", pids):
                self.pids = path

    def join_from_child(self) -> None:
        """Move the calling process into every directory (run in the child before exec)."""
        pid = f"{os.getpid()}\n"
        for path in self.dirs:
            (path / "cgroup.procs").write_text(pid)

    def members(self) -> list[int]:
        """Processes in the run's cgroup now."""
        for path in self.dirs:
            try:
                return [int(p) for p in (path / "cgroup.procs").read_text().split()]
            except OSError:
                continue
        return []

    def kill(self) -> None:
        """SIGKILL every process of the run at once, where the cgroup can do it safely.

        `cgroup.kill` kills atomically; the v1 freezer first stops every member, so none of
        their pids can be freed and reused before the signal lands. A cgroup with neither
        (a pids-only one) kills nothing: signalling pids read from `cgroup.procs` while
        they run could hit an unrelated process, and the run's PID namespace, supervisor
        or per-run uid kill it instead.
        """
        if self.kill_file is not None and _write(self.kill_file, "1"):
            return
        if self.freezer is None or not _write(self.freezer / "freezer.state", "FROZEN"):
            return
        deadline = time.monotonic() + FREEZE_WAIT_S
        frozen = False
        while not frozen and time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                frozen = (self.freezer / "freezer.state").read_text().strip() == "FROZEN"
            if not frozen:
                time.sleep(FREEZE_POLL_S)
        if frozen:  # none of them can exit or fork meanwhile
            for pid in self.members():
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        _write(self.freezer / "freezer.state", "THAWED")

    def memory_exceeded(self) -> bool:
        """Whether the kernel had to OOM-kill in the run (its total memory hit the cap)."""
        if self.memory_v2 is not None:
            return _read_counter(self.memory_v2 / "memory.events", "oom_kill") > 0
        if self.memory_v1 is not None:
            return _read_counter(self.memory_v1 / "memory.oom_control", "oom_kill") > 0
        return False

    def remove(self) -> bool:
        """Remove the (empty) directories; False while processes remain."""
        left = []
        for path in self.dirs:
            try:
                path.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                left.append(path)
        self.dirs = left
        return not left


def _enable_controllers(parent: Path) -> set[str]:
    try:
        enabled = set((parent / "cgroup.subtree_control").read_text().split())
    except OSError:
        return set()
    missing = {"memory", "pids"} - enabled
    if missing:
        available = set()
        with contextlib.suppress(OSError):
            available = set((parent / "cgroup.controllers").read_text().split())
        for controller in missing & available:
            if _write(parent / "cgroup.subtree_control", f"+{controller}"):
                enabled.add(controller)
    return enabled


def sweep_stale() -> None:
    """Kill and remove run cgroups left by applications that died (named by their pid)."""
    v2_mount, v1_mounts = _mounts()
    v2_own, v1_own = _own_paths()
    parents = set()
    if v2_mount is not None:
        parents |= {v2_mount, v2_mount / (v2_own or "/").lstrip("/")}
    for controller, mount in v1_mounts.items():
        parents |= {mount, mount / v1_own.get(controller, "/").lstrip("/")}
    for parent in parents:
        with contextlib.suppress(OSError):
            for entry in parent.iterdir():
                if not entry.name.startswith(CGROUP_PREFIX):
                    continue
                owner = entry.name[len(CGROUP_PREFIX) :].split("-", 1)[0]
                if not owner.isdigit() or pid_alive(int(owner)):
                    continue  # a live application's, or not named by this version
                stale = RunCgroup(dirs=[entry])
                if (entry / "cgroup.kill").exists():
                    stale.kill_file = entry / "cgroup.kill"
                elif (entry / "freezer.state").exists():
                    stale.freezer = entry
                stale.kill()
                stale.remove()
