"""What the server holds now, by canonical name, and which of it is on its way out."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from orquestra.backends.base import LoadedModel, ModelBackend, loaded_by_name
from orquestra.policy.decision import Resident
from orquestra.settings import ROLES, Role


class Residency:
    """The server's loaded models as last read, and the ones no request may be granted."""

    def __init__(self, backend: ModelBackend, models: Mapping[Role, str]) -> None:
        self._backend = backend
        self._models = dict(models)
        self.loaded: dict[str, LoadedModel] = {}
        self.evicting: frozenset[str] = frozenset()
        """Models the swap in flight is unloading."""
        self.stopping: set[str] = set()
        """Models a failed swap asked to unload: the server may still list them, but they
        are leaving, so no request is granted them until they are gone."""

    async def refresh(self) -> dict[str, LoadedModel]:
        """Read what the server holds now."""
        self.loaded = await loaded_by_name(self._backend)
        self.stopping &= self.loaded.keys()
        return dict(self.loaded)

    def roles(self) -> frozenset[Role]:
        """Roles whose model is loaded."""
        return frozenset(r for r in ROLES if self._models[r] in self.loaded)

    def servable(self) -> frozenset[Role]:
        """Roles whose model is loaded and staying."""
        staying = self.loaded.keys() - self.evicting - self.stopping
        return frozenset(r for r in ROLES if self._models[r] in staying)

    def residents(self, leases_on: Callable[[str], int]) -> list[Resident]:
        """The loaded models as the swap decision sees them: size, leases, role."""
        roles = {model: role for role, model in self._models.items()}
        return [
            Resident(name, m.size_vram, leases=leases_on(name), role=roles.get(name))
            for name, m in self.loaded.items()
        ]

    def used_bytes(self) -> int:
        """The VRAM the server reports its loaded models use."""
        return sum(m.size_vram for m in self.loaded.values())
