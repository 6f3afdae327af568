"""The real `orquestra` command in a pseudo-terminal, as a user runs it (and presses Ctrl-C)."""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time
from pathlib import Path

from orquestra.backends.embedded import llama_available
from orquestra.embedded import assets
from orquestra.settings import load_settings

COMMAND = str(Path(sys.executable).with_name("orquestra"))
# Upper bound on waiting for the command (a hang fails the test; speed is not asserted).
PATIENCE_S = 90.0
# The user's cache, where `orquestra models fetch` put the models (read at import, before
# the fixtures point ORQUESTRA_CACHE_DIR at a temporary directory).
MODEL_CACHE = load_settings().cache_dir
EMBEDDED_READY = llama_available() and assets.ready(MODEL_CACHE)
# What a crashed or hung command leaves in its output.
CRASH_SIGNS = ("Segmentation fault", "core dumped", "Fatal Python error", "Traceback")


class Terminal:
    """`orquestra` in a pseudo-terminal, as a user runs it."""

    def __init__(self, *args: str) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the command
            os.execv(COMMAND, [COMMAND, *args])
        self.output = b""

    def read(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            wait = min(0.1, max(0.0, deadline - time.monotonic()))
            ready, _, _ = select.select([self.fd], [], [], wait)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                self.output += chunk

    def press_ctrl_c(self) -> None:
        os.write(self.fd, b"\x03")  # the terminal turns it into SIGINT for the command

    def finish(self) -> int:
        self.read(PATIENCE_S)
        deadline = time.monotonic() + PATIENCE_S
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.1)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError(f"the command did not end: {self.text[-2000:]}")

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")
