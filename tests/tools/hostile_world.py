"""The world a hostile suite's application lives in: identities, canaries, a stand-in Ollama.

Each identity ("root", and "user": `nobody` through setpriv when the tests run as root,
else the user running them) gets its own directory with a copy of the application, a
`.env`, a secret file, a cache file and an unrelated sleeping process of the same user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "tests" / "tools" / "sandbox_app.py"
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
        return self.base / "src" / "tests" / "tools" / APP.name

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
    (target / "tests" / "tools").mkdir(parents=True)
    shutil.copy(APP, target / "tests" / "tools" / APP.name)
    for path in [target, *target.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
