"""The swaps so far: kept for status and streaming, and told to whoever subscribed."""

from __future__ import annotations

import logging
from collections.abc import Callable

from orquestra.events import SwapEvent

log = logging.getLogger(__name__)

# Swap events kept in memory for status and streaming.
MAX_EVENTS_KEPT = 256

SwapListener = Callable[[SwapEvent], None]


class SwapLog:
    """The recent swap events, their count, and the listeners told of each new one."""

    def __init__(self) -> None:
        self._events: list[SwapEvent] = []
        self._listeners: list[SwapListener] = []
        self.count = 0
        """Swaps since the manager started (more than the events kept)."""

    def record(self, event: SwapEvent) -> None:
        """Keep `event`, log its line and tell every listener (a failing one is logged)."""
        self.count += 1
        self._events.append(event)
        del self._events[:-MAX_EVENTS_KEPT]
        log.info("%s", event.describe())
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("Swap listener failed")

    def subscribe(self, listener: SwapListener) -> Callable[[], None]:
        """Call `listener` with every swap event; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    @property
    def events(self) -> list[SwapEvent]:
        """Swap events so far (the most recent `MAX_EVENTS_KEPT`)."""
        return list(self._events)
