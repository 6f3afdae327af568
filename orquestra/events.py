"""Swap events: one record per load the manager performs, broken into timed stages.

A swap is a `SwapEvent`; every other shape of it is built from the record: `as_dict` for
the wire (the custom stream of the graph, a lease's granted swaps, the status), and
`from_dict` to read any of them back, so a new field is declared here and only here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from orquestra.settings import Role


@dataclass(frozen=True)
class SwapEvent:
    """What one swap did, why, and how long each stage took."""

    to_model: str
    to_role: Role | None
    """The role the loaded model serves in a lineup (None: a plain client's model)."""
    from_models: tuple[str, ...]
    """Models unloaded to make room (empty for a load into free VRAM)."""
    from_role: Role | None
    """Our role whose model was unloaded, if any."""
    reason: str
    """Why: `request` (a caller needed the role), `home` (the home model came back)."""
    unload_s: float
    """Seconds spent asking the server to unload."""
    vram_wait_s: float
    """Seconds waiting for unloaded models to leave /api/ps and NVML to show memory back."""
    load_s: float
    """Seconds the load itself took."""
    total_s: float
    vram_before_gb: float
    vram_after_gb: float
    footprint_gb: float
    """What the loaded model takes, as measured after the load."""
    estimated_gb: float
    """What the decision assumed it would take (ledger or estimate)."""
    vram_converged: bool
    """False when NVML never showed the memory back within the settle timeout."""
    oom_retry: bool
    """True when the first load hit out-of-memory and succeeded after evicting."""
    started_at: float
    """Unix time the swap began."""
    page_cache: float | None = None
    """Share of the model's weights file in the page cache when the load began (None: unknown)."""
    prefetched: bool = False
    """Whether a prefetch had read the weights before this swap."""

    def as_dict(self) -> dict[str, Any]:
        """The event as plain JSON-ready data."""
        data = asdict(self)
        data["from_models"] = list(self.from_models)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SwapEvent:
        """The event back from `as_dict`'s data, or from any payload that carries it.

        Keys that are not fields (a stream event's `type` and `message`, a field of a newer
        sender) are ignored; a missing field that has no default raises `TypeError`.
        """
        names = {field.name for field in fields(cls)}
        values = {key: value for key, value in data.items() if key in names}
        if "from_models" in values:
            values["from_models"] = tuple(values["from_models"])
        return cls(**values)

    def describe(self) -> str:
        """One human line, e.g. `swapping brain → executor (qwen2.5-coder:14b) … 1.4 s`."""
        target = f"{self.to_role} ({self.to_model})" if self.to_role else self.to_model
        if not self.from_models:
            return f"loading {target} … {self.total_s:.1f} s"
        source = self.from_role or "other models"
        return f"swapping {source} → {target} … {self.total_s:.1f} s"
