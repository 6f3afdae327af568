"""Reading the budget and the footprints, for the manager and the doctor alike.

The rules are `orquestra.policy`'s (`choose_budget`, `estimate_footprint`); this module
takes the readings they need: NVML, the footprint ledger, the backend's model facts.
"""

from __future__ import annotations

import logging

from orquestra.backends.base import ModelBackend
from orquestra.ledger import FootprintLedger
from orquestra.lineup import ModelSpec
from orquestra.policy.budget import FALLBACK_BUDGET_GB, Budget, choose_budget
from orquestra.policy.footprint import estimate_footprint
from orquestra.settings import DEFAULT_NUM_CTX, Settings
from orquestra.vram import VramProbe

log = logging.getLogger(__name__)


def read_budget(settings: Settings, probe: VramProbe, *, warn: bool = True) -> Budget:
    """The budget from `ORQUESTRA_VRAM_BUDGET_GB`, NVML's total, or 16 GiB (with a warning)."""
    reading = probe.read() if settings.vram_budget_gb is None else None
    budget = choose_budget(settings.vram_budget_gb, reading.total if reading else None)
    if budget.assumed and warn:
        log.warning(
            "No NVML reading (%s): assuming a %.0f GiB card. Set ORQUESTRA_VRAM_BUDGET_GB to "
            "your GPU's memory.",
            probe.reason or "no driver",
            FALLBACK_BUDGET_GB,
        )
    return budget


async def footprint(backend: ModelBackend, ledger: FootprintLedger, spec: ModelSpec) -> int:
    """Bytes `spec`'s model takes with its pinned options: as measured before, else estimated.

    Args:
        backend: Where the model's facts come from when it was never measured.
        ledger: Footprints measured after earlier loads.
        spec: The model and its pinned options (`num_ctx` sizes the KV cache).
    """
    await ledger.aload()
    known = ledger.get(backend.canonical(spec.model), spec.options)
    if known is not None:
        return known.size
    facts = await backend.facts(spec.model)
    num_ctx = int(spec.options.get("num_ctx", DEFAULT_NUM_CTX))
    return estimate_footprint(facts.weights_bytes, facts.model_info, num_ctx)
