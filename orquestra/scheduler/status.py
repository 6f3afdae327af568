"""The manager's status: one record, read by `orquestra status`, the commander and Studio."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from orquestra.backends.base import ModelBackend
from orquestra.policy.budget import Budget
from orquestra.policy.decision import gib
from orquestra.scheduler.leases import LeaseQueue
from orquestra.scheduler.residency import Residency
from orquestra.scheduler.swap_log import SwapLog
from orquestra.settings import ROLES, Role, Settings
from orquestra.vram import VramProbe


@dataclass(frozen=True)
class ManagerStatus:
    """Residency, VRAM and swap figures at one moment (the founding design's keys, and more)."""

    current_model: str | None
    current_role: Role | None
    vram_used_gb: float
    vram_total_gb: float
    brain_loaded: bool
    executor_loaded: bool
    brain_model: str
    executor_model: str
    policy: str
    budget_gb: float
    budget_source: str
    nvml: bool
    """Whether NVML read the card (else VRAM figures are the server's own accounting)."""
    backend: str
    suspended: list[str]
    """Models unloaded but kept with tokenizer and context (embedded `mapped` models)."""
    swaps: int
    last_swap_s: float | None
    last_swap: dict[str, Any] | None
    swapping_to: Role | None
    leases: dict[Role, int]
    queued: dict[Role, int]
    home_role: str
    last_error: str | None

    def as_dict(self) -> dict[str, Any]:
        """The status as plain JSON-ready data (`manager.get_status()`)."""
        return asdict(self)


def read_status(
    settings: Settings,
    backend: ModelBackend,
    probe: VramProbe,
    models: Mapping[Role, str],
    held: Residency,
    queue: LeaseQueue,
    swaps: SwapLog,
    *,
    budget: Budget,
    swapping_to: Role | None,
    last_error: str | None,
) -> ManagerStatus:
    """The status of a manager made of these parts (NVML read now, when there is a card)."""
    resident = held.roles()
    last_role = queue.last_granted
    current = (
        last_role if last_role in resident else next((r for r in ROLES if r in resident), None)
    )
    reading = probe.read()
    events = swaps.events
    last = events[-1] if events else None
    return ManagerStatus(
        current_model=models[current] if current else None,
        current_role=current,
        vram_used_gb=gib(reading.used if reading else held.used_bytes()),
        vram_total_gb=gib(reading.total if reading else budget.bytes),
        brain_loaded="brain" in resident,
        executor_loaded="executor" in resident,
        brain_model=models["brain"],
        executor_model=models["executor"],
        policy=settings.swap_policy,
        budget_gb=gib(budget.bytes),
        budget_source=budget.source,
        nvml=reading is not None,
        backend=backend.name,
        suspended=backend.suspended(),
        swaps=swaps.count,
        last_swap_s=last.total_s if last else None,
        last_swap=last.as_dict() if last else None,
        swapping_to=swapping_to,
        leases={r: queue.leases_on(models[r]) for r in ROLES},
        queued=queue.queued(),
        home_role=settings.home_role,
        last_error=last_error,
    )
