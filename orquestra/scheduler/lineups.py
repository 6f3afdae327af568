"""The lineups a manager serves: the spec pinned per model, and each away model's home.

Every lineup a client brings is registered here (names already resolved by the backend).
The first spec to name a model pins its runner options and keep_alive: a later lineup
naming the same model with other runner options gets the pinned ones (counted in
`conflicts`), as Ollama's clients get one runner per model. A model a plain client asks
for that no lineup names is pinned with the scheduler's defaults.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from orquestra.lineup import Lineup, ModelSpec
from orquestra.settings import ROLES, HomeRole, Role

# At most this many distinct lineups are remembered (oldest forgotten first); their
# pinned specs stay.
MAX_LINEUPS = 32


class Lineups:
    """The registry of lineups and pinned specs of one manager."""

    def __init__(self, own: Lineup, home_role: HomeRole) -> None:
        self.own = own
        """The manager's own lineup (from its settings)."""
        self._home_role = home_role
        self.served: list[Lineup] = []
        """Lineups registered, the manager's own first."""
        self.pinned: dict[str, ModelSpec] = {}
        self.conflicts: Counter[str] = Counter()
        """Registrations that asked other runner options of a pinned model, by model."""
        self.own = self.register(own)

    @property
    def home_role(self) -> HomeRole:
        """The role whose model each lineup brings back when idle (`none`: no home model)."""
        return self._home_role

    def set_home_role(self, role: HomeRole) -> None:
        """Bring `role`'s model home from now on (a front gives each node its own)."""
        self._home_role = role

    def pin(self, spec: ModelSpec) -> ModelSpec:
        """The spec `spec.model` is served with: pinned now, or as pinned before."""
        pinned = self.pinned.setdefault(spec.model, spec)
        if pinned is not spec and dict(pinned.options) != dict(spec.options):
            self.conflicts[spec.model] += 1
        return pinned

    def register(self, lineup: Lineup) -> Lineup:
        """Serve `lineup` (names resolved); return it with the specs it will get."""
        served = replace(lineup, brain=self.pin(lineup.brain), executor=self.pin(lineup.executor))
        if served in self.served:
            return served
        self.served.append(served)
        del self.served[1:-MAX_LINEUPS]  # the own lineup stays first
        return served

    def role_of(self, model: str) -> Role | None:
        """A role `model` serves in some lineup (the own lineup's first), or None."""
        for lineup in self.served:
            for role in ROLES:
                if lineup.model(role) == model:
                    return role
        return None

    def homes(self) -> dict[str, str]:
        """Away model -> its lineup's home model (empty when the home role is none)."""
        if self._home_role == "none":
            return {}
        away: Role = "executor" if self._home_role == "brain" else "brain"
        homes: dict[str, str] = {}
        for lineup in reversed(self.served):  # the own lineup's rule wins
            if lineup.model(away) != lineup.model(self._home_role):
                homes[lineup.model(away)] = lineup.model(self._home_role)
        return homes

    def partners(self, model: str) -> set[str]:
        """The other models of every lineup that names `model` (prefetched after a swap)."""
        return {
            lineup.model(r) for lineup in self.served if lineup.roles_of(model) for r in ROLES
        } - {model}
