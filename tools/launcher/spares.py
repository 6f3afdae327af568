"""The pool of warm spares: at most one started, unused sandbox process per configuration.

After each run a spare is started in the background, so the next run with the same
configuration only has to send its code. A spare serves exactly one run.
"""

from __future__ import annotations

import atexit
import threading
from collections import OrderedDict

from tools.launcher.launched import Config, Launched, retry_removals
from tools.launcher.spawn import SPAWNER, launch

# Distinct configurations that keep a spare at once (each spare is one idle interpreter).
MAX_SPARES = 4


class SparePool:
    """At most one started, unused sandbox process per configuration; each serves one run."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._spares: OrderedDict[Config, Launched] = OrderedDict()
        self._filling: set[Config] = set()

    def take(self, config: Config) -> Launched | None:
        """The spare for `config`, if one is alive (it leaves the pool for good)."""
        with self._lock:
            spare = self._spares.pop(config, None)
        if spare is not None and not spare.alive():
            spare.discard()
            return None
        return spare

    def refill(self, config: Config) -> None:
        """Start a spare for `config` in a background thread (no-op if one is coming)."""
        with self._lock:
            if config in self._spares or config in self._filling:
                return
            self._filling.add(config)
        SPAWNER.submit(self._fill, config)

    def _fill(self, config: Config) -> None:
        try:
            spare = launch(config)
            evicted: list[Launched] = []
            with self._lock:
                self._spares[config] = spare
                while len(self._spares) > MAX_SPARES:
                    evicted.append(self._spares.popitem(last=False)[1])
            for old in evicted:
                old.discard()
        except OSError:
            return
        finally:
            # Only now is the pool settled: waiters see no spare half-started or half-evicted.
            with self._lock:
                self._filling.discard(config)
                self._lock.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until no spare is being started (False on timeout)."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._filling, timeout=timeout_s)

    def markers(self) -> set[str]:
        """Run markers of the spares (idle processes holding no code yet)."""
        with self._lock:
            return {s.marker for s in self._spares.values()}

    def pids(self) -> set[int]:
        """Pids of the spares' first processes (for tests looking for leftovers)."""
        with self._lock:
            return {s.proc.pid for s in self._spares.values()}

    def clear(self) -> None:
        """Stop every spare."""
        with self._lock:
            spares = list(self._spares.values())
            self._spares.clear()
        for spare in spares:
            spare.discard()


POOL = SparePool()


@atexit.register
def _shutdown() -> None:
    POOL.clear()
    retry_removals()
