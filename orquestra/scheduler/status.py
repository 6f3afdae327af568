"""The manager's status: one record, read by `orquestra status`, the commander and Studio."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from orquestra.events import SwapEvent
from orquestra.settings import Role


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

    @staticmethod
    def last_of(events: list[SwapEvent]) -> tuple[float | None, dict[str, Any] | None]:
        """The last swap's total seconds and record, when there was one."""
        last = events[-1] if events else None
        return (last.total_s, last.as_dict()) if last else (None, None)

    def as_dict(self) -> dict[str, Any]:
        """The status as plain JSON-ready data (`manager.get_status()`)."""
        return asdict(self)
