"""What the graph, the commander and the CLI need of a manager, wherever it runs.

`ModelManager` decides in this process; `orquestra.server.client.RemoteManager` asks the
one `orquestra serve` for this GPU. Both offer this protocol, so nodes do not care which.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel

from orquestra.events import SwapEvent
from orquestra.settings import Settings


class ModelService(Protocol):
    """Leases on the brain's and the executor's models, and their status."""

    settings: Settings

    def model_for(self, role: str) -> str:
        """The (canonical) model serving `role`."""
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

    def subscribe(self, listener: Callable[[SwapEvent], None]) -> Callable[[], None]:
        """Call `listener` with every swap event this service learns of."""
        ...

    def get_status(self) -> dict[str, Any]:
        """Residency, VRAM and swap figures (may block briefly on a remote scheduler)."""
        ...

    async def astatus(self) -> dict[str, Any]:
        """`get_status()` without blocking the event loop."""
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
