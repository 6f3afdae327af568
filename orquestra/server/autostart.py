"""Finding the one scheduler for this GPU, or starting it, so processes never decide apart.

With `ORQUESTRA_URL` set, that scheduler is used (and a clear error says when it does not
answer); `ORQUESTRA_URL=none` keeps the in-process manager. Unset, the default address is
tried; when nothing answers there, `orquestra serve` is started in the background
(`ORQUESTRA_AUTOSTART=true`) for Ollama or, without it, holding the embedded models (one
copy for every process), and exits on its own after `ORQUESTRA_SERVE_IDLE_S` idle.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time

from orquestra.errors import BackendUnavailableError
from orquestra.server.client import scheduler_answers
from orquestra.settings import Settings

log = logging.getLogger(__name__)

# How long a scheduler may take to answer a probe.
PROBE_TIMEOUT_S = 1.0
# How long a started scheduler may take to answer.
START_WAIT_S = 30.0
START_POLL_S = 0.2
SERVE_LOG = "serve.log"


def find_or_start(settings: Settings) -> str | None:
    """The URL of the scheduler this process must use, or None to decide in-process.

    Raises:
        BackendUnavailableError: `ORQUESTRA_URL` names a scheduler that does not answer, or
            one was started and never answered (the message names the log and the fix).
    """
    if settings.in_process:
        return None
    url = settings.scheduler_url
    if scheduler_answers(url, PROBE_TIMEOUT_S):
        return url
    if settings.orquestra_url.strip():
        raise BackendUnavailableError(
            f"ORQUESTRA_URL={settings.orquestra_url} does not answer. Start `orquestra serve` "
            "there, unset ORQUESTRA_URL to use (or start) the default one, or set "
            "ORQUESTRA_URL=none to decide in this process."
        )
    if not settings.autostart:
        return None
    return start(settings)


def start(settings: Settings) -> str:
    """Start `orquestra serve` in the background and wait until it answers."""
    url = settings.scheduler_url
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    path = settings.cache_dir / SERVE_LOG
    command = [
        sys.executable,
        "-m",
        "orquestra.server",
        "--host",
        settings.serve_host,
        "--port",
        str(settings.serve_port),
        "--idle-exit",
        str(settings.serve_idle_s),
    ]
    with path.open("ab") as output:
        subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,  # outlives this process; exits when idle
        )
    log.info("Started orquestra serve at %s (log: %s)", url, path)
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        if scheduler_answers(url, PROBE_TIMEOUT_S):
            return url
        time.sleep(START_POLL_S)
    raise BackendUnavailableError(
        f"orquestra serve, started at {url}, did not answer within {START_WAIT_S:.0f} s "
        f"(see {path}). Run `orquestra serve` yourself, or set ORQUESTRA_URL=none."
    )
