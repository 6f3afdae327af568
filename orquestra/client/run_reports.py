"""A client's sandbox runs, reported to the `orquestra serve` it uses.

The scheduler runs no code; its clients do (the graph's nodes, through the sandbox). Each
run is reported to `orquestra.telemetry`; a process that uses a scheduler forwards those
reports to it (`POST /orquestra/code-runs`), so `orquestra_code_runs_total` counts the runs
of every client. A report is sent on a thread of its own and never fails or slows the run.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping

import httpx

from orquestra import telemetry
from orquestra.client.wire import CODE_RUNS_PATH

REPORT_TIMEOUT_S = 2.0

_lock = threading.Lock()
_target: list[Callable[[], None]] = []  # the unsubscriber of the one reporter, if any


def report_code_runs_to(url: str | None, headers: Mapping[str, str] | None = None) -> None:
    """Forward this process's runs to the scheduler at `url` from now on (None: to none).

    `headers` go with each report (the API key, when one is set). One target per
    process: a later call replaces the earlier one.
    """
    with _lock:
        while _target:
            _target.pop()()
        if url is not None:
            endpoint = url.rstrip("/") + CODE_RUNS_PATH
            sent = dict(headers or {})
            _target.append(telemetry.subscribe_code_runs(lambda exit: _send(endpoint, exit, sent)))


def _send(endpoint: str, outcome: str, headers: dict[str, str]) -> None:
    def post() -> None:
        with contextlib.suppress(httpx.HTTPError):  # a scheduler gone: the run is what matters
            httpx.post(endpoint, json={"exit": outcome}, headers=headers, timeout=REPORT_TIMEOUT_S)

    threading.Thread(target=post, name="orquestra-run-report", daemon=True).start()
