"""The manager's status: one typed record, read by field on both sides of the wire.

`ManagerStatus` holds bytes; GiB appear only in `as_dict()`, the view a person (or a
JSON client) reads, which keeps the founding design's keys (`brain_loaded`,
`current_role`, `vram_used_gb`, ...) as seen from one lineup. A client decodes the
scheduler's answer with `ManagerStatus.from_dict` and looks at it through its own lineup
(`for_lineup`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from orquestra.backends.base import ModelBackend
from orquestra.events import SwapEvent
from orquestra.lineup import Lineup, Upstream
from orquestra.policy.budget import Budget
from orquestra.policy.decision import gib
from orquestra.scheduler.leases import LeaseQueue
from orquestra.scheduler.lineups import Lineups
from orquestra.scheduler.residency import Residency
from orquestra.scheduler.swap_log import SwapLog
from orquestra.settings import ROLES, Role, Settings
from orquestra.vram import VramProbe


@dataclass(frozen=True)
class ModelState:
    """One model the scheduler serves or sees resident, now."""

    model: str
    resident: bool
    vram: int = 0
    """Bytes it holds in VRAM (0 when not resident)."""
    leases: int = 0
    queued: int = 0
    pinned: bool = True
    """Whether a lineup or client asked for it (False: someone else loaded it)."""

    def as_dict(self) -> dict[str, Any]:
        """Plain data, VRAM in bytes and GiB."""
        return {
            "model": self.model,
            "resident": self.resident,
            "vram_bytes": self.vram,
            "vram_gb": gib(self.vram),
            "leases": self.leases,
            "queued": self.queued,
            "pinned": self.pinned,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelState:
        """The state `as_dict` wrote."""
        return cls(
            str(data["model"]),
            bool(data["resident"]),
            int(data.get("vram_bytes", 0)),
            int(data.get("leases", 0)),
            int(data.get("queued", 0)),
            bool(data.get("pinned", True)),
        )


@dataclass(frozen=True)
class ManagerStatus:
    """Residency, VRAM, leases and swaps at one moment, seen from `lineup`."""

    lineup: Lineup
    """The lineup this view is for (the role-keyed fields of `as_dict` follow it)."""
    lineups: tuple[Lineup, ...]
    """Every lineup the scheduler serves."""
    models: tuple[ModelState, ...]
    vram_used: int
    vram_total: int
    budget: int
    budget_source: str
    nvml: bool
    """Whether NVML read the card (else VRAM figures are the server's own accounting)."""
    backend: str
    upstream: Upstream
    policy: str
    home_role: str
    suspended: tuple[str, ...]
    """Models unloaded but kept with tokenizer and context (embedded `mapped` models)."""
    swaps: int
    last_swap: SwapEvent | None
    swapping_to: str | None
    """The model a swap in flight is bringing in."""
    last_granted: str | None
    last_error: str | None
    pin_conflicts: Mapping[str, int] = field(default_factory=dict)
    """Lineups that asked other runner options of a pinned model, by model."""
    serve: Mapping[str, Any] | None = None
    """`orquestra serve`'s own counters, when the status comes from it."""

    def state(self, model: str) -> ModelState:
        """The state of `model` (not resident when the scheduler does not know it)."""
        return next((m for m in self.models if m.model == model), ModelState(model, False))

    def loaded(self, role: Role) -> bool:
        """Whether `role`'s model (of this view's lineup) is resident."""
        return self.state(self.lineup.model(role)).resident

    @property
    def current_role(self) -> Role | None:
        """The lineup's role whose model last got a lease and is resident, else any resident."""
        resident = [r for r in ROLES if self.loaded(r)]
        last = self.lineup.roles_of(self.last_granted or "")
        return next((r for r in last if r in resident), resident[0] if resident else None)

    @property
    def current_model(self) -> str | None:
        """The model of `current_role`."""
        role = self.current_role
        return self.lineup.model(role) if role else None

    def for_lineup(self, lineup: Lineup) -> ManagerStatus:
        """The same moment seen from another lineup."""
        return replace(self, lineup=lineup)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: the founding design's keys for this lineup, and more."""
        last = self.last_swap
        swapping = self.lineup.roles_of(self.swapping_to or "")
        return {
            "current_model": self.current_model,
            "current_role": self.current_role,
            "vram_used_gb": gib(self.vram_used),
            "vram_total_gb": gib(self.vram_total),
            "brain_loaded": self.loaded("brain"),
            "executor_loaded": self.loaded("executor"),
            "brain_model": self.lineup.brain.model,
            "executor_model": self.lineup.executor.model,
            "policy": self.policy,
            "budget_gb": gib(self.budget),
            "budget_source": self.budget_source,
            "nvml": self.nvml,
            "backend": self.backend,
            "upstream": self.upstream.describe(),
            "suspended": list(self.suspended),
            "swaps": self.swaps,
            "last_swap_s": last.total_s if last else None,
            "last_swap": last.as_dict() if last else None,
            "swapping_to": swapping[0] if swapping else self.swapping_to,
            "leases": {r: self.state(self.lineup.model(r)).leases for r in ROLES},
            "queued": {r: n for r in ROLES if (n := self.state(self.lineup.model(r)).queued)},
            "home_role": self.home_role,
            "last_error": self.last_error,
            "models": [m.as_dict() for m in self.models],
            "lineup": self.lineup.as_dict(),
            "lineups": [lineup.as_dict() for lineup in self.lineups],
            "pin_conflicts": dict(self.pin_conflicts),
            "bytes": {
                "vram_used": self.vram_used,
                "vram_total": self.vram_total,
                "budget": self.budget,
            },
            "upstream_server": self.upstream.as_dict(),
            "last_granted": self.last_granted,
            "swapping_model": self.swapping_to,
            **({"serve": dict(self.serve)} if self.serve is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ManagerStatus:
        """The status `as_dict` wrote (a client decoding the scheduler's answer)."""
        sizes = data["bytes"]
        last = data.get("last_swap")
        return cls(
            lineup=Lineup.from_dict(data["lineup"]),
            lineups=tuple(Lineup.from_dict(x) for x in data.get("lineups", [])),
            models=tuple(ModelState.from_dict(m) for m in data.get("models", [])),
            vram_used=int(sizes["vram_used"]),
            vram_total=int(sizes["vram_total"]),
            budget=int(sizes["budget"]),
            budget_source=str(data.get("budget_source", "")),
            nvml=bool(data.get("nvml")),
            backend=str(data["backend"]),
            upstream=Upstream.from_dict(data["upstream_server"]),
            policy=str(data.get("policy", "")),
            home_role=str(data.get("home_role", "")),
            suspended=tuple(data.get("suspended", [])),
            swaps=int(data.get("swaps", 0)),
            last_swap=SwapEvent.from_dict(last) if last else None,
            swapping_to=data.get("swapping_model"),
            last_granted=data.get("last_granted"),
            last_error=data.get("last_error"),
            pin_conflicts=dict(data.get("pin_conflicts", {})),
            serve=data.get("serve"),
        )


def read_status(
    settings: Settings,
    backend: ModelBackend,
    probe: VramProbe,
    lineups: Lineups,
    upstream: Upstream,
    held: Residency,
    queue: LeaseQueue,
    swaps: SwapLog,
    *,
    budget: Budget,
    swapping_to: str | None,
    last_error: str | None,
) -> ManagerStatus:
    """The status of a manager made of these parts (NVML read now, when there is a card)."""
    reading = probe.read()
    events = swaps.events
    queued = queue.queued()
    names = [*lineups.pinned, *(m for m in held.loaded if m not in lineups.pinned)]
    models = tuple(
        ModelState(
            model,
            resident=model in held.loaded,
            vram=held.loaded[model].size_vram if model in held.loaded else 0,
            leases=queue.leases_on(model),
            queued=queued.get(model, 0),
            pinned=model in lineups.pinned,
        )
        for model in names
    )
    return ManagerStatus(
        lineup=lineups.own,
        lineups=tuple(lineups.served),
        models=models,
        vram_used=reading.used if reading else held.used_bytes(),
        vram_total=reading.total if reading else budget.bytes,
        budget=budget.bytes,
        budget_source=budget.source,
        nvml=reading is not None,
        backend=backend.name,
        upstream=upstream,
        policy=settings.swap_policy,
        home_role=lineups.home_role,
        suspended=tuple(backend.suspended()),
        swaps=swaps.count,
        last_swap=events[-1] if events else None,
        swapping_to=swapping_to,
        last_granted=queue.last_granted,
        last_error=last_error,
        pin_conflicts=dict(lineups.conflicts),
    )
