"""What one model server process holds: its VRAM (NVML, per process) or its resident memory.

A router-mode llama-server runs each model in its own child process, so a model's
footprint is that process's: the bytes NVML reports for it on the GPU, else (no driver,
or a CPU build) its resident set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import psutil


class ProcessVram(Protocol):
    """NVML's per-process reading (`orquestra.vram.NvmlProbe` has it)."""

    def process_used(self, pid: int) -> int | None:
        """VRAM bytes `pid` holds, or None when unknown."""
        ...


def find_process(markers: Sequence[str]) -> int | None:
    """The pid of the newest process whose command line holds `markers` in that order.

    Args:
        markers: Consecutive command-line tokens, such as `("--port", "40123")`.
    """
    wanted = list(markers)
    best: tuple[float, int] | None = None
    for process in psutil.process_iter(["pid", "cmdline", "create_time"]):
        cmdline = process.info.get("cmdline") or []
        size = len(wanted)
        if any(cmdline[i : i + size] == wanted for i in range(len(cmdline) - size + 1)):
            started = float(process.info.get("create_time") or 0.0)
            if best is None or started > best[0]:
                best = (started, int(process.info["pid"]))
    return best[1] if best else None


def process_footprint(pid: int, vram: ProcessVram | None) -> int | None:
    """Bytes the process holds: its VRAM when NVML sees it, else its resident memory.

    Returns None when the process is gone.
    """
    if vram is not None:
        used = vram.process_used(pid)
        if used:
            return used
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:
        return None
