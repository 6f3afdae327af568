"""What the server holds now, by canonical name, which of it is leaving, and how fresh."""

from __future__ import annotations

import time
from collections.abc import Callable

from orquestra.backends.base import LoadedModel, ModelBackend, loaded_by_name
from orquestra.policy.decision import Resident
from orquestra.settings import Role


class Residency:
    """The server's loaded models as last read, and the ones no request may be granted."""

    def __init__(self, backend: ModelBackend) -> None:
        self._backend = backend
        self.loaded: dict[str, LoadedModel] = {}
        self.read_at = float("-inf")
        """`time.monotonic()` of the last read (never: minus infinity)."""
        self.evicting: frozenset[str] = frozenset()
        """Models the swap in flight is unloading."""
        self.stopping: set[str] = set()
        """Models a failed swap asked to unload: the server may still list them, but they
        are leaving, so no request is granted them until they are gone."""

    async def refresh(self) -> dict[str, LoadedModel]:
        """Read what the server holds now."""
        self.loaded = await loaded_by_name(self._backend)
        self.read_at = time.monotonic()
        self.stopping &= self.loaded.keys()
        return dict(self.loaded)

    def age(self) -> float:
        """Seconds since the last read."""
        return time.monotonic() - self.read_at

    def models(self) -> frozenset[str]:
        """Models loaded now."""
        return frozenset(self.loaded)

    def servable(self) -> frozenset[str]:
        """Models loaded and staying."""
        return frozenset(self.loaded.keys() - self.evicting - self.stopping)

    def residents(
        self, leases_on: Callable[[str], int], role_of: Callable[[str], Role | None]
    ) -> list[Resident]:
        """The loaded models as the swap decision sees them: size, leases, role."""
        return [
            Resident(name, m.size_vram, leases=leases_on(name), role=role_of(name))
            for name, m in self.loaded.items()
        ]

    def used_bytes(self) -> int:
        """The VRAM the server reports its loaded models use."""
        return sum(m.size_vram for m in self.loaded.values())
