"""The VRAM budget Orquestra may fill: the setting, else the card, else a typical card. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from orquestra.policy.decision import GIB

# Budget assumed when no budget is set and NVML cannot read the card: the typical
# consumer GPU this project is for.
FALLBACK_BUDGET_GB = 16.0
FALLBACK_SOURCE = "default (no NVML)"


@dataclass(frozen=True)
class Budget:
    """The budget in bytes and where it came from (shown by `orquestra status`)."""

    bytes: int
    source: str

    @property
    def assumed(self) -> bool:
        """Whether nothing told the budget: neither the setting nor the card."""
        return self.source == FALLBACK_SOURCE


def choose_budget(setting_gb: float | None, card_total: int | None) -> Budget:
    """`ORQUESTRA_VRAM_BUDGET_GB` when set, then the card's total memory, then 16 GiB.

    Args:
        setting_gb: The budget setting, or None when unset.
        card_total: Bytes of memory NVML reads on the GPU, or None without a reading.
    """
    if setting_gb is not None:
        return Budget(int(setting_gb * GIB), "ORQUESTRA_VRAM_BUDGET_GB")
    if card_total is not None:
        return Budget(card_total, "NVML")
    return Budget(int(FALLBACK_BUDGET_GB * GIB), FALLBACK_SOURCE)
