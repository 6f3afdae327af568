"""The program the sandbox runs to test a project: unpack it, run its tests, report.

The sandbox runs this module as the run's code (`tools.project_tests.runner_program`);
standard library only. It makes its memory unreadable to other processes, reads from
standard input a header (the run's nonce, the command, the deadline, the plugin) and
the project's files, and writes the files into `project/` in its private work dir: the
tests get a read-write copy of the copy, which dies with the run, so nothing a test
writes reaches the workspace copy or the user's files. It starts the command there as
a child in its own session (output captured here, the end kept), kills the child's
session at the deadline, and prints one report line: REPORT_MARKER, the nonce, then
JSON with the exit status, whether it timed out, the output kept, and the outcome lines
the plugin recorded. The child cannot print that line for it: its output goes through
a pipe to this process, which it cannot inspect (not dumpable), and it never sees the
nonce, which was read before it started.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import zlib
from typing import IO, Any

# The report line's first word; the nonce and the JSON follow.
REPORT_MARKER = "[orquestra-tests]"
PROJECT_DIR = "project"
SUPPORT_DIR = ".orquestra-tests"
OUTCOMES_FILE = "outcomes.jsonl"
# Most of the plugin's outcome lines read back (a flood of fake ones is cut here).
MAX_OUTCOME_BYTES = 8 * 1024 * 1024
READ_CHUNK = 64 * 1024
# After the child ends, how long its output may take to close (a grandchild holding it).
DRAIN_WAIT_S = 2.0
PR_SET_DUMPABLE = 4


class Tail:
    """The last `limit` characters of a stream, and how many came before them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept = bytearray()
        self.dropped = 0

    def read(self, stream: IO[bytes]) -> None:
        """Read `stream` to its end, keeping only its tail."""
        while chunk := os.read(stream.fileno(), READ_CHUNK):
            self.kept += chunk
            excess = len(self.kept) - self.limit
            if excess > 0:
                del self.kept[:excess]
                self.dropped += excess

    def text(self) -> str:
        """The tail as text, with a note of what was cut from the front."""
        text = bytes(self.kept).decode("utf-8", errors="replace")
        if self.dropped:
            text = f"[... {self.dropped} earlier bytes of output not shown ...]\n{text}"
        return text


def unpack(bundle: bytes, target: str) -> None:
    """Write the bundle's files (`tools.project_tests.pack`) under `target`."""
    manifest_end = bundle.index(b"\n")
    manifest = json.loads(bundle[:manifest_end])
    offset = manifest_end + 1
    for path, mode, size in manifest:
        parts = path.split("/")
        if path.startswith("/") or any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"refused path in the bundle: {path!r}")
        destination = os.path.join(target, *parts)
        os.makedirs(os.path.dirname(destination), mode=0o700, exist_ok=True)
        with open(destination, "wb") as out:
            out.write(bundle[offset : offset + size])
        os.chmod(destination, (mode & 0o755) | 0o600)
        offset += size


def _private() -> None:
    """No other process of the run may read this one's memory or /proc files."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0)")


def _environment(header: dict[str, Any], support: str, outcomes: str) -> dict[str, str]:
    env = dict(os.environ)
    bindir = os.path.dirname(header["argv"][0]) if os.path.isabs(header["argv"][0]) else ""
    env["PATH"] = os.pathsep.join(p for p in (bindir, env.get("PATH", "")) if p)
    env["PYTHONPATH"] = support
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env[header["outcomes_var"]] = outcomes
    return env


def _outcome_lines(path: str) -> list[Any]:
    lines: list[Any] = []
    with contextlib.suppress(OSError), open(path, "rb") as stream:
        for raw in stream.read(MAX_OUTCOME_BYTES).splitlines():
            with contextlib.suppress(ValueError):
                line = json.loads(raw)
                if (
                    isinstance(line, list)
                    and len(line) == 2
                    and all(isinstance(x, str) for x in line)
                ):
                    lines.append(line)
    return lines


def main() -> None:
    """Unpack, run the command until done or the deadline, print the report line."""
    _private()
    header = json.loads(sys.stdin.buffer.readline())
    bundle = zlib.decompress(base64.b64decode(sys.stdin.buffer.read()))
    work = os.getcwd()
    project = os.path.join(work, PROJECT_DIR)
    os.makedirs(project, mode=0o700, exist_ok=True)
    unpack(bundle, project)
    del bundle
    support = os.path.join(work, SUPPORT_DIR)
    os.makedirs(support, mode=0o700, exist_ok=True)
    with open(os.path.join(support, header["plugin_module"] + ".py"), "w") as plugin:
        plugin.write(header["plugin_source"])
    outcomes = os.path.join(support, OUTCOMES_FILE)
    tail = Tail(header["max_output"])
    timed_out = False
    try:
        child = subprocess.Popen(
            header["argv"],
            cwd=project,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=_environment(header, support, outcomes),
            start_new_session=True,
        )
    except OSError as error:
        status, tail.kept = 127, bytearray(f"could not run {header['argv'][0]}: {error}\n", "utf-8")
    else:
        reader = threading.Thread(target=tail.read, args=(child.stdout,), daemon=True)
        reader.start()
        try:
            status = child.wait(timeout=header["timeout_s"])
        except subprocess.TimeoutExpired:
            timed_out = True
            with contextlib.suppress(OSError):
                os.killpg(child.pid, signal.SIGKILL)
            status = child.wait()
        with contextlib.suppress(OSError):  # what the tests left running in their session
            os.killpg(child.pid, signal.SIGKILL)
        reader.join(DRAIN_WAIT_S)
    report = {
        "exit_code": status,
        "timed_out": timed_out,
        "output": tail.text(),
        "outcomes": _outcome_lines(outcomes),
    }
    line = f"{REPORT_MARKER} {header['nonce']} {json.dumps(report)}\n"
    sys.stdout.buffer.write(line.encode("utf-8"))
    sys.stdout.buffer.flush()
