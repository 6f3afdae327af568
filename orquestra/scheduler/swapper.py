"""Carrying out a swap plan: unload, wait for VRAM to come back, load, measure, record.

The decision of *what* to do is `orquestra.policy.decision`; this module only does it, with
timings for every stage, and measures what the loaded model really took.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

from orquestra.backends.base import LoadedModel, ModelBackend, loaded_by_name
from orquestra.errors import ModelTooLargeError, OutOfMemoryError
from orquestra.events import SwapEvent
from orquestra.ledger import FootprintLedger
from orquestra.lineup import ModelSpec
from orquestra.policy.decision import Load, SwapPlan, Unload, WaitForVram, gib
from orquestra.polling import poll_interval
from orquestra.scheduler.prefetcher import Prefetcher
from orquestra.settings import Role, Settings
from orquestra.vram import VramProbe

log = logging.getLogger(__name__)

# NVML counts as converged once this share of the unloaded models' memory is back
# (the same rule Ollama's scheduler applies before its next load).
VRAM_CONVERGED_FRACTION = 0.75


class Swapper:
    """Runs swap plans against a backend, a VRAM probe and the footprint ledger."""

    def __init__(
        self,
        settings: Settings,
        backend: ModelBackend,
        probe: VramProbe,
        ledger: FootprintLedger,
        prefetcher: Prefetcher | None = None,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.probe = probe
        self.ledger = ledger
        self.prefetcher = prefetcher
        """Asked, right before each load, how much of the weights the page cache holds."""

    def vram_used(self, resident: Mapping[str, LoadedModel]) -> int:
        """Bytes in use: NVML when present, else the sum of what the server reports."""
        reading = self.probe.read()
        if reading is not None:
            return reading.used
        return sum(m.size_vram for m in resident.values())

    async def _wait_vram(self, used_before: int, freed: int, needed: int) -> bool:
        """Wait for NVML to show the freed memory back; False if it never did in time."""
        start = time.perf_counter()
        if self.probe.read() is None or freed <= 0:
            return True
        target_used = used_before - VRAM_CONVERGED_FRACTION * freed
        while True:
            reading = self.probe.read()
            if reading is None or reading.used <= target_used or reading.free >= needed:
                return True
            waited = time.perf_counter() - start
            if waited >= self.settings.vram_settle_timeout_s:
                log.warning(
                    "NVML still shows %.2f GiB used %.1fs after unloading; loading anyway",
                    gib(reading.used),
                    waited,
                )
                return False
            await asyncio.sleep(poll_interval(waited, cheap=True))

    async def _wait_unloaded(
        self,
        models: tuple[str, ...],
        resident: Mapping[str, LoadedModel],
        used_before: int,
        needed: int,
    ) -> bool:
        """Wait for `models` to leave the server, then for NVML to show their memory back."""
        for model in models:
            await self.backend.wait_unloaded(model, self.settings.unload_timeout_s)
        freed = sum(resident[m].size_vram for m in models if m in resident)
        return await self._wait_vram(used_before, freed, needed)

    async def _evict(
        self, models: tuple[str, ...], resident: Mapping[str, LoadedModel], needed: int
    ) -> tuple[float, float, bool]:
        """Unload `models` and wait for them to leave: seconds of each stage, convergence."""
        used_before = self.vram_used(resident)
        start = time.perf_counter()
        for model in models:
            await self.backend.unload(model)
        unload_s = time.perf_counter() - start
        start = time.perf_counter()
        converged = await self._wait_unloaded(models, resident, used_before, needed)
        return unload_s, time.perf_counter() - start, converged

    async def _load(self, spec: ModelSpec) -> float:
        return await self.backend.load(spec.model, spec.options, spec.keep_alive)

    async def run(
        self,
        plan: SwapPlan,
        *,
        spec: ModelSpec,
        resident: Mapping[str, LoadedModel],
        role_of: Callable[[str], Role | None],
        leased: frozenset[str],
        estimated: int,
        reason: str,
    ) -> tuple[SwapEvent, dict[str, LoadedModel]]:
        """Carry out `plan`; return the event describing it and what the server now holds.

        Args:
            plan: The actions from `orquestra.policy.decision.decide`.
            spec: The pinned spec of the model the plan loads (its options and keep_alive).
            resident: What the server held when the plan was made, by canonical name.
            role_of: The role a model serves in some lineup, by canonical name.
            leased: Models with leases held (never unloaded, not even after an OOM).
            estimated: The bytes the decision assumed the loaded model takes.
            reason: Why the swap happens (recorded in the event).

        Raises:
            OutOfMemoryError: The load failed for memory even after evicting the rest.
            ModelTooLargeError: The model loaded only partly on the GPU.
        """
        started_at = time.time()
        t0 = time.perf_counter()
        vram_before = self.vram_used(resident)
        unload_s = wait_s = load_s = 0.0
        converged, oom_retry = True, False
        unloaded: tuple[str, ...] = ()
        page_cache, prefetched = None, False
        target: Load | None = None
        for action in plan.actions:  # each action carried out as it is written
            start = time.perf_counter()
            if isinstance(action, Unload):
                await self.backend.unload(action.model)
                unloaded += (action.model,)
                unload_s += time.perf_counter() - start
            elif isinstance(action, WaitForVram):
                converged = await self._wait_unloaded(
                    action.models, resident, vram_before, action.free_bytes
                )
                wait_s += time.perf_counter() - start
            else:
                target = action
                # Measured after the unloads and the VRAM wait, which a prefetch overlaps.
                if self.prefetcher is not None:
                    page_cache, prefetched = await self.prefetcher.cache_state(action.model)
                try:
                    load_s = await self._load(spec)
                except OutOfMemoryError:
                    # Like Ollama's own scheduler: evict everything not in use, retry once.
                    current = await loaded_by_name(self.backend)
                    extra = tuple(m for m in current if m not in leased and m != action.model)
                    if not extra:
                        raise
                    log.warning(
                        "Out of memory loading %s; unloading %s and retrying", action.model, extra
                    )
                    u, w, converged = await self._evict(extra, current, estimated)
                    unload_s, wait_s, unloaded = unload_s + u, wait_s + w, unloaded + extra
                    oom_retry = True
                    load_s = await self._load(spec)
        assert target is not None, "a swap plan always ends with a load"

        measured, after = await self._measure(spec)
        from_role = next((r for r in map(role_of, unloaded) if r is not None), None)
        event = SwapEvent(
            to_model=target.model,
            to_role=target.role,
            from_models=unloaded,
            from_role=from_role,
            reason=reason,
            unload_s=round(unload_s, 4),
            vram_wait_s=round(wait_s, 4),
            load_s=round(load_s, 4),
            total_s=round(time.perf_counter() - t0, 4),
            vram_before_gb=gib(vram_before),
            vram_after_gb=gib(self.vram_used(after)),
            footprint_gb=gib(measured.size),
            estimated_gb=gib(estimated),
            vram_converged=converged,
            oom_retry=oom_retry,
            started_at=started_at,
            page_cache=None if page_cache is None else round(page_cache, 3),
            prefetched=prefetched,
        )
        return event, after

    async def _measure(self, spec: ModelSpec) -> tuple[LoadedModel, dict[str, LoadedModel]]:
        """Record the loaded model's real size; refuse it if it is not 100 % on the GPU."""
        model = spec.model
        loaded = await loaded_by_name(self.backend)
        measured = loaded.get(model)
        if measured is None:
            # The server forgot it already (e.g. keep_alive 0); nothing to measure.
            return LoadedModel(model, 0, 0), loaded
        if self.ledger.record(model, spec.options, measured.size, measured.size_vram):
            await self.ledger.asave()
        if measured.size_vram < measured.size and not self.settings.allow_partial_offload:
            await self.backend.unload(model)
            share = 100 * measured.size_vram / measured.size if measured.size else 0
            raise ModelTooLargeError(
                f"{model} loaded only {share:.0f} % on the GPU ({gib(measured.size_vram)} of "
                f"{gib(measured.size)} GiB), so Orquestra unloaded it. Free VRAM, use a smaller "
                f"quantisation or num_ctx, or set ORQUESTRA_ALLOW_PARTIAL_OFFLOAD=true."
            )
        return measured, loaded
