"""Process-wide tallies that layers above the scheduler report into, for `orquestra serve`.

The runtime and the sandbox (`tools`) know nothing of each other, yet the scheduler exports
how code runs ended. So the graph's nodes, which run code in the sandbox, report each run
here (`record_code_run`, from `nodes.code_runs`), the prefetcher reports the bytes it read
(`record_prefetch`), and whoever exports metrics reads the totals or subscribes. A client
process talking to `orquestra serve` forwards its runs there (`orquestra.client.run_reports`), so
the scheduler counts the runs of every client.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

CODE_RUN_OUTCOMES = ("ok", "error", "timeout", "sandbox_error")
"""The `exit` label of a code run: exit 0; another exit status; killed at its time limit;
the sandbox itself could not run the code."""

CodeRunListener = Callable[[str], None]

_lock = threading.Lock()
_code_runs: Counter[str] = Counter()
_listeners: list[CodeRunListener] = []
_prefetch_bytes = 0


def code_run_outcome(exit_code: int | None, *, timed_out: bool, error: str | None) -> str:
    """The `exit` label for a run with this exit status, timeout flag and sandbox error."""
    if error is not None:
        return "sandbox_error"
    if timed_out:
        return "timeout"
    return "ok" if exit_code == 0 else "error"


def record_code_run(outcome: str) -> None:
    """Count one sandbox run in this process and tell the listeners (never raises)."""
    if outcome not in CODE_RUN_OUTCOMES:
        raise ValueError(f"unknown code run outcome {outcome!r}: one of {CODE_RUN_OUTCOMES}")
    with _lock:
        _code_runs[outcome] += 1
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(outcome)
        except Exception:  # a reporter's failure never fails the run
            continue


def subscribe_code_runs(listener: CodeRunListener) -> Callable[[], None]:
    """Call `listener` with the outcome of every run from now on; returns the unsubscriber."""
    with _lock:
        _listeners.append(listener)

    def unsubscribe() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return unsubscribe


def code_runs() -> dict[str, int]:
    """Runs in this process so far, by outcome."""
    with _lock:
        return dict(_code_runs)


def record_prefetch(n_bytes: int) -> None:
    """Count bytes a prefetch read from disk into the page cache."""
    global _prefetch_bytes
    with _lock:
        _prefetch_bytes += max(0, n_bytes)


def prefetch_bytes() -> int:
    """Bytes prefetches read in this process so far."""
    with _lock:
        return _prefetch_bytes
