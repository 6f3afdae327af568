"""Fake NVML: VRAM probes for the manager, reading the fake server's ledger or nothing.

`FakeNvml` reports what the fake card holds at this instant, the way NVML reads a real
card (the only proof that VRAM is free, §10); `NoNvml` is a machine without a driver.
"""

from __future__ import annotations

from orquestra.vram import VramReading
from tests.fakes.ollama.state import FakeOllamaState


class FakeNvml:
    """A VRAM probe reading the fake server's ledger, as NVML reads the card."""

    def __init__(self, state: FakeOllamaState) -> None:
        self._state = state

    @property
    def available(self) -> bool:
        return True

    @property
    def reason(self) -> str:
        return ""

    def read(self) -> VramReading | None:
        return VramReading(total=self._state.vram_total, used=self._state.vram_used())


class NoNvml:
    """A VRAM probe for a machine without an NVIDIA driver."""

    available = False
    reason = "NVML unavailable (fake: no driver)"

    def read(self) -> VramReading | None:
        return None
