"""Finding the one scheduler for this GPU, or starting it, so processes never decide apart.

With `ORQUESTRA_URL` set, that scheduler is used (and a clear error says when it does not
answer); `ORQUESTRA_URL=none` keeps the in-process manager. Unset, the default address is
tried; when nothing answers there, `orquestra serve` is started in the background
(`ORQUESTRA_AUTOSTART=true`) for this process's upstream, and exits on its own after
`ORQUESTRA_SERVE_IDLE_S` idle.

A scheduler drives one upstream (one GPU). When the one that answers drives another
upstream than this process asks for, an autostarted one that holds no lease is asked to
exit and replaced; one started by hand, or busy, is left alone and this process stops
with one line naming what it asked for, what the scheduler drives, and the fix.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from typing import Any

import httpx
from pydantic import SecretStr

from orquestra.client.remote import probe_status, scheduler_answers
from orquestra.client.trust import Trust
from orquestra.client.wire import EXIT_PATH
from orquestra.errors import BackendUnavailableError, PolicyError
from orquestra.lineup import Lineup, Upstream
from orquestra.settings import Settings, env_name

log = logging.getLogger(__name__)

# How long a scheduler may take to answer a probe.
PROBE_TIMEOUT_S = 1.0
# How long a started scheduler may take to answer, or a replaced one to go.
START_WAIT_S = 30.0
START_POLL_S = 0.2
SERVE_LOG = "serve.log"
# Settings a started scheduler never inherits from its starter.
_NOT_INHERITED = frozenset({"orquestra_url", "backend"})


def find_or_start(settings: Settings, lineup: Lineup) -> str | None:
    """The URL of the scheduler this process must use for `lineup`, or None: in-process.

    Raises:
        BackendUnavailableError: `ORQUESTRA_URL` names a scheduler that does not answer, or
            one was started and never answered (the message names the log and the fix).
        PolicyError: The scheduler that answers drives another upstream and cannot be
            replaced (started by hand, or busy); the message names the fix.
        UntrustedServerError: What answers cannot prove it is the user's scheduler (the
            message says what answered and the fix); nothing else was sent to it.
    """
    if settings.in_process:
        return None
    url = settings.scheduler_url
    trust = Trust.of(url, settings)
    status = probe_status(trust, PROBE_TIMEOUT_S)
    if status is not None:
        if "front" in status or _drives(status).same_as(lineup.upstream):
            return url  # a front places each lineup on its nodes' own upstreams
        _replace(trust, status, lineup)
    elif settings.orquestra_url.strip():
        raise BackendUnavailableError(
            f"ORQUESTRA_URL={settings.orquestra_url} does not answer. Start `orquestra serve` "
            "there, unset ORQUESTRA_URL to use (or start) the default one, or set "
            "ORQUESTRA_URL=none to decide in this process."
        )
    elif not settings.autostart:
        return None
    return start(settings, lineup)


def _drives(status: dict[str, Any]) -> Upstream:
    return Upstream.from_dict(status["upstream_server"])


def _replace(trust: Trust, status: dict[str, Any], lineup: Lineup) -> None:
    """Ask the idle autostarted scheduler `trust` proved to exit; refuse with the fix otherwise."""
    url = trust.url
    serve = status.get("serve") or {}
    theirs = _drives(status).describe()
    busy = serve.get("held_leases", 0) or serve.get("active_requests", 0) or serve.get("waiting")
    if serve.get("autostarted") and not busy:
        try:
            with httpx.Client(event_hooks=trust.event_hooks()) as http:
                answer = http.post(f"{url}{EXIT_PATH}", timeout=PROBE_TIMEOUT_S)
        except httpx.TransportError:
            answer = None
        if answer is None or answer.status_code == 200:
            log.info("orquestra serve at %s drove %s: replacing it", url, theirs)
            _wait(lambda: not scheduler_answers(trust, PROBE_TIMEOUT_S), url, "exit")
            return
    why = "is in use" if serve.get("autostarted") else "was started by hand"
    raise PolicyError(
        f"This process asks for {lineup.describe()}, but orquestra serve at {url} drives "
        f"{theirs} and {why}. Stop it, start one for this upstream on another port "
        f"(ORQUESTRA_SERVE_PORT, then ORQUESTRA_URL), or set ORQUESTRA_URL=none."
    )


def _wait(condition: Any, url: str, what: str) -> None:
    deadline = time.monotonic() + START_WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise BackendUnavailableError(
                f"orquestra serve at {url} did not {what} within {START_WAIT_S:.0f} s. "
                "Stop it yourself, or set ORQUESTRA_URL=none."
            )
        time.sleep(START_POLL_S)


def scheduler_environment(settings: Settings, lineup: Lineup) -> dict[str, str]:
    """The environment a started scheduler runs with.

    This process's, its explicit settings (what a flag said reaches it too), and its
    lineup's upstream and models.
    """
    env = dict(os.environ)
    for name in settings.model_fields_set - _NOT_INHERITED:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is not None:
            env[env_name(name)] = str(value).lower() if isinstance(value, bool) else str(value)
    upstream = lineup.upstream
    env["ORQUESTRA_BACKEND"] = upstream.backend
    if upstream.backend == "ollama":
        env["OLLAMA_BASE_URL"] = settings.ollama_base_url
    elif upstream.backend == "llama-server":
        env["LLAMA_SERVER_URL"] = settings.llama_server_url
    env["DEFAULT_MODEL"], env["EXECUTOR_MODEL"] = lineup.brain.model, lineup.executor.model
    env.pop("ORQUESTRA_URL", None)
    return env


def start(settings: Settings, lineup: Lineup) -> str:
    """Start `orquestra serve` for `lineup`'s upstream in the background; wait until it answers."""
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
            env=scheduler_environment(settings, lineup),
            start_new_session=True,  # outlives this process; exits when idle
        )
    where = lineup.upstream.describe()
    log.info("Started orquestra serve at %s for %s (log: %s)", url, where, path)
    trust = Trust.of(url, settings)
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        if scheduler_answers(trust, PROBE_TIMEOUT_S):
            return url
        time.sleep(START_POLL_S)
    raise BackendUnavailableError(
        f"orquestra serve, started at {url}, did not answer within {START_WAIT_S:.0f} s "
        f"(see {path}). Run `orquestra serve` yourself, or set ORQUESTRA_URL=none."
    )
