"""Reading a model's weights into the page cache before a swap needs them.

While one model holds the GPU, its lineup partners' weights files are read into RAM in
the background, so the next swap loads from RAM rather than disk. The swapper asks
`cache_state` right before a load: a prefetch still running is awaited (never read twice).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

from orquestra.backends.base import ModelBackend
from orquestra.errors import OrquestraError
from orquestra.policy.decision import GIB, gib
from orquestra.prefetch import WarmResult, cached_fraction, warm
from orquestra.settings import Settings
from orquestra.telemetry import record_prefetch

log = logging.getLogger(__name__)


class Prefetcher:
    """Background reads of models' weights files, one at a time per model."""

    def __init__(self, settings: Settings, backend: ModelBackend):
        self._settings = settings
        self._backend = backend
        self._weights: dict[str, Path | None] = {}
        self._tasks: dict[str, asyncio.Task[WarmResult | None]] = {}
        self.prefetched: dict[str, WarmResult] = {}
        """Completed reads not yet used by a load, by canonical model name."""

    def start(self, model: str, resident: Iterable[str]) -> None:
        """Start reading `model`'s weights unless off, resident, running or unreadable."""
        if not self._settings.prefetch or model in resident:
            return
        running = self._tasks.get(model)
        if running is not None and not running.done():
            return
        self._tasks[model] = asyncio.get_running_loop().create_task(
            self._read(model), name=f"orquestra-prefetch-{model}"
        )

    async def _weights_path(self, model: str) -> Path | None:
        if model not in self._weights:
            try:
                self._weights[model] = await self._backend.weights_path(model)
            except OrquestraError:
                return None
        return self._weights[model]

    async def _read(self, model: str) -> WarmResult | None:
        path = await self._weights_path(model)
        if path is None:
            return None
        reserve = int(self._settings.prefetch_reserve_gb * GIB)
        try:
            result = await asyncio.to_thread(warm, path, reserve_bytes=reserve)
        except OSError as exc:
            log.info("Prefetch of %s failed: %s", path, exc)
            return None
        self.prefetched[model] = result
        record_prefetch(result.bytes_read)
        if result.already_cached:
            log.info("Prefetch of %s: already in the page cache", path)
        else:
            log.info(
                "Prefetched %s: %.2f GiB in %.2f s", path, gib(result.bytes_read), result.seconds
            )
        return result

    async def cache_state(self, model: str) -> tuple[float | None, bool]:
        """Share of `model`'s weights in the page cache now, and whether a prefetch read them."""
        running = self._tasks.pop(model, None)
        if running is not None and not running.done():
            # The swap needs the file now: let the prefetch finish rather than read twice.
            with suppress(asyncio.CancelledError, Exception):
                await running
        path = await self._weights_path(model)
        fraction = None if path is None else await asyncio.to_thread(cached_fraction, path)
        return fraction, self.prefetched.pop(model, None) is not None

    async def cancel(self) -> None:
        """Stop every read in flight."""
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            if not task.done():
                task.cancel()
                with suppress(asyncio.CancelledError, Exception):
                    await task

    def forget_tasks(self) -> None:
        """Drop the tasks of a finished event loop (they can no longer run)."""
        self._tasks.clear()
