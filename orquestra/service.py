"""What the graph, the commander and the CLI need of a manager, wherever it runs.

`ModelManager` (and its `LineupView` for other models) decides in this process;
`orquestra.client.remote.RemoteManager` asks the one `orquestra serve` for this GPU.
All offer this protocol, so nodes do not care which.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel

from orquestra.events import SwapEvent
from orquestra.lineup import Lineup
from orquestra.scheduler.status import ManagerStatus
from orquestra.settings import Settings


class ModelService(Protocol):
    """Leases on a lineup's brain and executor, and the scheduler's status."""

    settings: Settings

    @property
    def lineup(self) -> Lineup:
        """What this service serves: per role the model, its runner options, its keep_alive."""
        ...

    def use(self, role: str) -> AbstractAsyncContextManager[BaseChatModel]:
        """Hold a lease on `role`'s model; yields a chat model bound to its pinned options."""
        ...

    async def ensure(self, role: str) -> None:
        """Make `role`'s model resident."""
        ...

    async def prefetch(self, role: str) -> None:
        """Start reading `role`'s weights into the page cache (where that is possible)."""
        ...

    async def for_models(self, brain: str = "", executor: str = "") -> ModelService:
        """The same scheduler serving other models (empty names: this lineup's)."""
        ...

    def subscribe(self, listener: Callable[[SwapEvent], None]) -> Callable[[], None]:
        """Call `listener` with every swap event this service learns of."""
        ...

    async def status(self) -> ManagerStatus:
        """Residency, VRAM and swap figures, seen from this lineup."""
        ...

    def get_status(self) -> dict[str, Any]:
        """`status()` as plain data (blocking briefly on a remote scheduler)."""
        ...

    def busy(self) -> bool:
        """Whether this process holds or waits for a lease."""
        ...

    async def drained(self) -> None:
        """Return once this process holds and waits for no lease."""
        ...

    async def aclose(self) -> None:
        """Release connections and background work."""
        ...
