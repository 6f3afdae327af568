"""The home timer: once the other role's model sits idle, bring the home model back.

The rule of when it is due is `orquestra.policy.admission.home_due`; this module only
waits `ORQUESTRA_HOME_AFTER_S` while it stays due, then starts the swap.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


class HomeTimer:
    """One pending return home at most; re-armed on every change of the manager's state."""

    def __init__(self, delay_s: float) -> None:
        self._delay_s = delay_s
        self._task: asyncio.Task[None] | None = None

    def arm(self, due: Callable[[], bool], go_home: Callable[[], None]) -> None:
        """Start waiting when `due()` holds, stop when it no longer does."""
        if due() and self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._wait(due, go_home), name="orquestra-home"
            )
        elif not due() and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _wait(self, due: Callable[[], bool], go_home: Callable[[], None]) -> None:
        try:
            await asyncio.sleep(self._delay_s)
        except asyncio.CancelledError:
            return
        self._task = None
        if due():
            go_home()

    def forget(self) -> None:
        """Drop the task of a finished event loop."""
        self._task = None

    async def cancel(self) -> None:
        """Stop waiting (the manager is closing)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
