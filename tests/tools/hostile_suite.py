"""Running the hostile batches: one application per identity and tier, and the evidence it left.

`Suite` runs (and remembers) each batch once per test session; `result` is one job's
result after the checks every run must pass.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import termios
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.tools.hostile_jobs import jobs
from tests.tools.hostile_world import (
    APP_PATIENCE_S,
    CLEANUP_BOUND_S,
    IDENTITIES,
    SHORT_TIMEOUT_S,
    SYSTEM_PYTHON,
    TIERS,
    TRASH_PATIENCE_S,
    StandInOllama,
    World,
    _make_world,
)
from tools.isolation import interpreter_readable
from tools.processes import MARKER_VAR


@dataclass
class Batch:
    """What one application run left as evidence."""

    results: dict[str, dict[str, Any]]
    app_pid: int
    tty_input: bytes
    server_log: list[str]
    mounts_before: set[str]
    mounts_after: set[str]
    sleeper_alive: bool
    leftovers: list[str]
    residue: list[str]
    pth_files: list[str]
    env_text: str
    host_workdirs: list[str]


def _host_mounts() -> set[str]:
    lines = Path("/proc/1/mountinfo").read_text().splitlines()
    return {" ".join(line.split()[3:5]) for line in lines}


def _run_app(world: World, spec: dict[str, Any], tty_slave: int | None) -> subprocess.Popen[bytes]:
    spec_file = world.base / f"spec-{uuid.uuid4().hex[:8]}.json"
    spec_file.write_text(json.dumps(spec))
    world.chown(spec_file)

    def take_terminal() -> None:
        if tty_slave is not None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(world.home), "LANG": "C.UTF-8"}
    if world.who == "root":
        env["HOME"] = "/root"
    return subprocess.Popen(
        [*world.as_identity(), world.python, str(world.app), str(spec_file)],
        cwd=world.app_dir,
        env=env,
        stdin=tty_slave if tty_slave is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=take_terminal,
    )


def sandbox_processes(app_pid: int, token: str) -> list[str]:
    """Live processes of the application's runs: its marker, or the token, in them."""
    found = []
    marker = f"{MARKER_VAR}={app_pid}-".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            environ = b""
            with contextlib.suppress(OSError):
                environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if state == "Z":
            continue
        if marker in environ or token.encode() in cmdline:
            found.append(f"{entry}: {cmdline[:120]!r}")
    return found


def _wait_gone(check: Any, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while (left := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


class Suite:
    """Runs (and remembers) each identity's and tier's batch, once per test session."""

    def __init__(self, server: StandInOllama) -> None:
        self.server = server
        self.token = str(uuid.uuid4().int)[:10]  # digits: it is also a `sleep` argument
        self.worlds: dict[str, World] = {}
        self.batches: dict[tuple[str, str], Batch] = {}
        self.tiers: dict[tuple[str, str], bool] = {}
        self.no_world: dict[str, str] = {}

    def world(self, who: str) -> World:
        if who in self.no_world:
            pytest.skip(self.no_world[who])
        if who not in self.worlds:
            try:
                self.worlds[who] = _make_world(who, self.token)
            except subprocess.CalledProcessError as exc:
                shutil.rmtree(f"/tmp/orq-hostile-{self.token}-{who}", ignore_errors=True)
                self.no_world[who] = f"no virtual environment for {who} here ({exc})"
                pytest.skip(self.no_world[who])
        return self.worlds[who]

    def python_for(self, world: World, tier: str) -> str | None:
        """The sandbox's interpreter: root's process tier needs one its uid can read."""
        readable = interpreter_readable(sys.executable)
        if tier == "process" and world.who == "root" and not readable:
            return SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else None
        return None

    def available(self, who: str, tier: str) -> bool:
        key = (who, tier)
        if key not in self.tiers:
            world = self.world(who)
            app = _run_app(world, {"probe": True, "python": self.python_for(world, tier)}, None)
            out, err = app.communicate(timeout=60)
            assert app.returncode == 0, err.decode()
            self.tiers[key] = tier in json.loads(out)["tiers"]
        return self.tiers[key]

    def batch(self, who: str, tier: str) -> Batch:
        if not self.available(who, tier):
            pytest.skip(f"the {tier} tier is not available to {who} here")
        key = (who, tier)
        if key not in self.batches:
            self.batches[key] = self._run_batch(self.world(who), tier)
        return self.batches[key]

    def _run_batch(self, world: World, tier: str) -> Batch:
        token = f"{self.token}{TIERS.index(tier)}{IDENTITIES.index(world.who)}"
        master, slave = pty.openpty()
        world.chown(Path(os.ttyname(slave)))
        spec = {
            "secret": world.secret,
            "secret_file": str(world.app_dir / "secret.txt"),
            "port": self.server.port,
            "token": token,
            "sleeper_pid": world.sleeper.pid if world.sleeper else 0,
            "cache_file": str(world.cache_file),
            "mount_target": str(world.mount_target),
            "python": self.python_for(world, tier),
            "jobs": jobs(tier),
        }
        mounts_before = _host_mounts()
        self.server.log.clear()
        app = _run_app(world, spec, slave)
        try:
            out, err = app.communicate(timeout=APP_PATIENCE_S)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(app.pid, signal.SIGKILL)
        assert app.returncode == 0, err.decode()[-3000:]
        results = {r["name"]: r for r in json.loads(out)}
        tty_input = b""
        os.set_blocking(slave, False)
        with contextlib.suppress(OSError):
            tty_input = os.read(slave, 4096)
        os.close(slave)
        os.close(master)
        leftovers = _wait_gone(lambda: sandbox_processes(app.pid, token), 2.0)
        residue = [
            str(p) for d in ("/dev/shm", "/tmp", "/var/tmp") for p in Path(d).glob(f"*{token}*")
        ]
        venv = Path(world.python).parents[1]
        pth = [
            str(p)
            for d in (venv, *venv.glob("lib/python3*/site-packages"), world.app_dir)
            for p in d.glob("*.pth")
            if token in p.name or d == world.app_dir
        ]
        # Renamed away at once; the detached remover may still be emptying a flood.
        workdirs = _wait_gone(
            lambda: [str(p) for p in Path("/tmp").glob(f"orq-*-{app.pid}-*")], TRASH_PATIENCE_S
        )
        mounts_after = _host_mounts()
        # Whatever a failing sandbox let through must not outlive the test.
        for leftover in [*residue, *pth]:
            Path(leftover).unlink(missing_ok=True)
        if str(world.mount_target) in " ".join(mounts_after):
            subprocess.run(["umount", "-l", str(world.mount_target)], check=False)
        return Batch(
            results=results,
            app_pid=app.pid,
            tty_input=tty_input,
            server_log=list(self.server.log),
            mounts_before=mounts_before,
            mounts_after=mounts_after,
            sleeper_alive=world.sleeper is not None and world.sleeper.poll() is None,
            leftovers=leftovers,
            residue=residue,
            pth_files=pth,
            env_text=(world.app_dir / ".env").read_text(),
            host_workdirs=workdirs,
        )

    def close(self) -> None:
        for world in self.worlds.values():
            if world.sleeper is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(world.sleeper.pid, signal.SIGKILL)
                world.sleeper.wait()
            for path in world.cleanup:
                path.unlink(missing_ok=True)
            shutil.rmtree(world.base, ignore_errors=True)


PAIRS = [(who, tier) for who in IDENTITIES for tier in TIERS]
CASES = [pytest.param(pair, id=f"{pair[0]}-{pair[1]}") for pair in PAIRS]


def result(batch: Batch, name: str) -> dict[str, Any]:
    """One job's result, after the checks every run must pass."""
    entry = batch.results[name]
    assert entry["raised"] is None, entry["raised"]
    assert entry["error"] is None, entry
    timeout = 10 if name == "deep_and_locked" else 5
    if name in ("hard_link_flood", "fork_bomb"):
        timeout = SHORT_TIMEOUT_S
    assert entry["duration_s"] <= timeout + CLEANUP_BOUND_S, entry
    assert entry["wall_s"] <= timeout + CLEANUP_BOUND_S, entry
    return entry
