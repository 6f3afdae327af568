"""Reading the GPU's memory through NVML (nvidia-ml-py), degrading cleanly without a driver."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VramReading:
    """One NVML reading of the GPU's memory, in bytes."""

    total: int
    used: int

    @property
    def free(self) -> int:
        """Bytes not in use."""
        return max(self.total - self.used, 0)


class VramProbe(Protocol):
    """Anything that can read the GPU's memory (NVML, or a fake in tests)."""

    @property
    def available(self) -> bool:
        """Whether readings can be taken at all."""
        ...

    @property
    def reason(self) -> str:
        """Why readings are unavailable ('' when they are available)."""
        ...

    def read(self) -> VramReading | None:
        """Return the current reading, or None when no reading can be taken."""
        ...


class NvmlProbe:
    """VRAM probe on nvidia-ml-py; unavailable (never raising) without an NVIDIA driver.

    NVML calls are in-process library calls of a few microseconds, so they do not
    block the event loop in any way that matters.
    """

    def __init__(self, gpu_index: int = 0) -> None:
        self._gpu_index = gpu_index
        self._handle: object | None = None
        self._reason = ""
        self._tried = False

    def _init(self) -> None:
        self._tried = True
        try:
            import pynvml

            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(self._gpu_index)
        except Exception as exc:  # NVMLError_* has many subclasses; OSError without the lib.
            self._handle = None
            self._reason = f"NVML unavailable ({type(exc).__name__}: {exc})"
            log.debug("NVML probe disabled: %s", self._reason)

    @property
    def available(self) -> bool:
        """Whether NVML answered for the configured GPU."""
        if not self._tried:
            self._init()
        return self._handle is not None

    @property
    def reason(self) -> str:
        """Why NVML is unavailable ('' when it is available)."""
        return "" if self.available else self._reason

    def name(self) -> str | None:
        """The GPU's marketing name, when NVML is available."""
        if not self.available:
            return None
        import pynvml

        try:
            value = pynvml.nvmlDeviceGetName(self._handle)
        except Exception:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def read(self) -> VramReading | None:
        """Return total and used VRAM of the GPU, or None without NVML."""
        if not self.available:
            return None
        import pynvml

        try:
            info = pynvml.nvmlDeviceGetMemoryInfo(self._handle)
        except Exception as exc:
            log.warning("NVML reading failed: %s", exc)
            return None
        return VramReading(total=int(info.total), used=int(info.used))

    def process_used(self, pid: int) -> int | None:
        """VRAM bytes the process `pid` holds on this GPU, or None when NVML cannot tell."""
        if not self.available:
            return None
        import pynvml

        try:
            processes = pynvml.nvmlDeviceGetComputeRunningProcesses(self._handle)
        except Exception as exc:
            log.debug("NVML process list failed: %s", exc)
            return None
        for process in processes:
            used = getattr(process, "usedGpuMemory", None)
            if int(process.pid) == pid and isinstance(used, int):
                return used
        return None
