"""ModelManager: leases on the brain and the executor, one swap at a time, the home model.

Callers ask for a role (`ensure`, `use`); requests queue in arrival order and are
admitted by `orquestra.scheduling.admit` (same-model work batched, the other role never
starved); the one swap in flight is decided by `orquestra.decision.decide` and carried
out by `orquestra.swapper.Swapper`. No swap ever evicts a model while a lease on it is
held, and swaps never overlap.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from orquestra.backends.base import LoadedModel, ModelBackend
from orquestra.backends.ollama import canonical_name
from orquestra.decision import (
    GIB,
    Blocked,
    Limits,
    Refusal,
    Resident,
    SwapPlan,
    SwapRequest,
    decide,
    gib,
)
from orquestra.errors import ModelTooLargeError, OrquestraError, PolicyError
from orquestra.events import SwapEvent
from orquestra.footprint import estimate_footprint
from orquestra.ledger import LEDGER_FILENAME, FootprintLedger
from orquestra.prefetch import WarmResult, cached_fraction, warm
from orquestra.scheduling import Waiter, admit
from orquestra.settings import ROLES, Role, Settings
from orquestra.swapper import Swapper
from orquestra.vram import NvmlProbe, VramProbe

log = logging.getLogger(__name__)

# Budget assumed when no budget is set and NVML cannot read the card: the typical
# consumer GPU this project is for.
FALLBACK_BUDGET_GB = 16.0
# Swap events kept in memory for status and streaming.
MAX_EVENTS_KEPT = 256

SwapListener = Callable[[SwapEvent], None]


def resolve_budget(settings: Settings, probe: VramProbe) -> tuple[int, str]:
    """Return the VRAM budget in bytes and where it came from.

    The order: `ORQUESTRA_VRAM_BUDGET_GB`, then the GPU's total from NVML, then 16 GiB
    with a warning.
    """
    if settings.vram_budget_gb is not None:
        return int(settings.vram_budget_gb * GIB), "ORQUESTRA_VRAM_BUDGET_GB"
    reading = probe.read()
    if reading is not None:
        return reading.total, "NVML"
    log.warning(
        "No NVML reading (%s): assuming a %.0f GiB card. Set ORQUESTRA_VRAM_BUDGET_GB to "
        "your GPU's memory.",
        probe.reason or "no driver",
        FALLBACK_BUDGET_GB,
    )
    return int(FALLBACK_BUDGET_GB * GIB), "default (no NVML)"


def _check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise ValueError(f"Unknown role {role!r}: use 'brain' or 'executor'.")


class ModelManager:
    """Makes the brain or the executor resident on demand, within the VRAM budget."""

    def __init__(
        self,
        settings: Settings,
        backend: ModelBackend,
        *,
        probe: VramProbe | None = None,
        ledger: FootprintLedger | None = None,
        budget_source: str | None = None,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.probe: VramProbe = probe or NvmlProbe(settings.gpu_index)
        self.ledger = ledger or FootprintLedger(settings.cache_dir / LEDGER_FILENAME)
        self.budget_bytes, self.budget_source = resolve_budget(settings, self.probe)
        if budget_source is not None:  # the budget was chosen for the user, not by them
            self.budget_source = budget_source
        self.limits = Limits(
            budget=self.budget_bytes,
            policy=settings.swap_policy,
            margin=int(settings.vram_margin_gb * GIB),
            allow_partial_offload=settings.allow_partial_offload,
        )
        self._swapper = Swapper(settings, backend, self.probe, self.ledger)
        self._models: dict[Role, str] = {r: canonical_name(settings.model_for(r)) for r in ROLES}
        self._tickets = itertools.count()
        self._waiting: dict[int, tuple[Role, asyncio.Future[None]]] = {}
        self._leases: Counter[str] = Counter()
        self._resident: dict[str, LoadedModel] = {}
        self._evicting: frozenset[str] = frozenset()
        # Models asked to unload by a swap that then failed: the server may still list
        # them, but they are leaving, so no request is granted them until they are gone.
        self._stopping: set[str] = set()
        self._head: int | None = None
        self._contended: Counter[Role] = Counter()
        self._swap_task: asyncio.Task[None] | None = None
        self._swap_role: Role | None = None
        self._home_task: asyncio.Task[None] | None = None
        self._home_failed = False
        self._released = asyncio.Event()
        self._pumped = asyncio.Event()  # every change of leases, waiters and swaps pumps
        self._loop: asyncio.AbstractEventLoop | None = None
        self._chat_models: dict[Role, BaseChatModel] = {}
        self._weights: dict[str, Path | None] = {}
        self._prefetches: dict[str, asyncio.Task[WarmResult | None]] = {}
        self.prefetched: dict[str, WarmResult] = {}
        self._events: list[SwapEvent] = []
        self._swap_count = 0
        self._listeners: list[SwapListener] = []
        self.last_error: str | None = None
        self.last_role: Role | None = None

    # -- public API ----------------------------------------------------------------------

    async def ensure(self, role: str) -> None:
        """Make `role`'s model resident under the policy (waiting for any swap it needs)."""
        async with self.use(role):
            pass

    @asynccontextmanager
    async def use(self, role: str) -> AsyncIterator[BaseChatModel]:
        """Hold a lease on `role`'s model and yield a chat model bound to its pinned options.

        While the lease is held no swap evicts the model. Raises the backend's clear
        errors (Ollama unreachable, model not pulled, too large for the budget).
        """
        checked = _check_role(role)
        model = await self._acquire(checked)
        try:
            yield self._chat_model(checked)
        finally:
            self._release(model)

    async def prefetch(self, role: str) -> None:
        """Start reading `role`'s weights into the page cache in the background.

        Returns at once. Nothing happens when prefetching is off, the model is resident,
        a prefetch of it is running, or its weights are not readable on this machine.
        """
        checked = _check_role(role)
        self._bind_loop()
        model = self._models[checked]
        if not self.settings.prefetch or model in self._resident:
            return
        running = self._prefetches.get(model)
        if running is not None and not running.done():
            return
        self._prefetches[model] = asyncio.get_running_loop().create_task(
            self._prefetch(checked), name=f"orquestra-prefetch-{checked}"
        )

    async def _standby_prefetch(self) -> None:
        """After a swap, start reading the model that is now out into the page cache.

        Whatever the next task is, the next swap brings that model back, so its weights
        are read from RAM then, not from disk. The model just loaded no longer needs its
        file cached (its weights are on the GPU, or mapped and in use), so the page cache
        only ever has to hold the model that is out.
        """
        for role in ROLES:
            if self._models[role] not in self._resident:
                await self.prefetch(role)

    async def _weights_path(self, role: Role) -> Path | None:
        model = self._models[role]
        if model not in self._weights:
            try:
                self._weights[model] = await self.backend.weights_path(
                    self.settings.model_for(role)
                )
            except OrquestraError:
                return None
        return self._weights[model]

    async def _prefetch(self, role: Role) -> WarmResult | None:
        path = await self._weights_path(role)
        if path is None:
            return None
        reserve = int(self.settings.prefetch_reserve_gb * GIB)
        try:
            result = await asyncio.to_thread(warm, path, reserve_bytes=reserve)
        except OSError as exc:
            log.info("Prefetch of %s failed: %s", path, exc)
            return None
        self.prefetched[self._models[role]] = result
        if result.already_cached:
            log.info("Prefetch of %s: already in the page cache", path)
        else:
            log.info(
                "Prefetched %s: %.2f GiB in %.2f s", path, gib(result.bytes_read), result.seconds
            )
        return result

    async def _cache_state(self, role: Role) -> tuple[float | None, bool]:
        """Share of the weights in the page cache now, and whether a prefetch read them."""
        model = self._models[role]
        running = self._prefetches.pop(model, None)
        if running is not None and not running.done():
            # The swap needs the file now: let the prefetch finish rather than read twice.
            with suppress(asyncio.CancelledError, Exception):
                await running
        path = await self._weights_path(role)
        fraction = None if path is None else await asyncio.to_thread(cached_fraction, path)
        return fraction, self.prefetched.pop(model, None) is not None

    def model_for(self, role: str) -> str:
        """The (canonical) model tag serving `role`."""
        return self._models[_check_role(role)]

    def subscribe(self, listener: SwapListener) -> Callable[[], None]:
        """Call `listener` with every swap event; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    @property
    def events(self) -> list[SwapEvent]:
        """Swap events so far (the most recent `MAX_EVENTS_KEPT`)."""
        return list(self._events)

    def get_status(self) -> dict[str, Any]:
        """Residency, VRAM and swap figures (the founding design's keys, and more)."""
        resident = {r: self._models[r] in self._resident for r in ROLES}
        resident_roles = [r for r in ROLES if resident[r]]
        current_role = (
            self.last_role if self.last_role in resident_roles else next(iter(resident_roles), None)
        )
        reading = self.probe.read()
        used = reading.used if reading else sum(m.size_vram for m in self._resident.values())
        last = self._events[-1] if self._events else None
        return {
            "current_model": self._models[current_role] if current_role else None,
            "current_role": current_role,
            "vram_used_gb": gib(used),
            "vram_total_gb": gib(reading.total if reading else self.budget_bytes),
            "brain_loaded": resident["brain"],
            "executor_loaded": resident["executor"],
            "brain_model": self._models["brain"],
            "executor_model": self._models["executor"],
            "policy": self.settings.swap_policy,
            "budget_gb": gib(self.budget_bytes),
            "budget_source": self.budget_source,
            "nvml": reading is not None,
            "backend": self.backend.name,
            # Embedded `mapped` models unloaded but kept with tokenizer and context.
            "suspended": list(getattr(self.backend, "suspended_models", [])),
            "swaps": self._swap_count,
            "last_swap_s": last.total_s if last else None,
            "last_swap": last.as_dict() if last else None,
            "swapping_to": self._swap_role,
            "leases": {r: self._leases[self._models[r]] for r in ROLES},
            "queued": dict(Counter(role for role, _ in self._waiting.values())),
            "home_role": self.settings.home_role,
            "last_error": self.last_error,
        }

    def busy(self) -> bool:
        """Whether a lease is held, a request waits or a swap runs on this event loop."""
        if self._loop is not asyncio.get_running_loop():
            return False  # nothing of another (finished) loop can still be running
        return bool(self._leases or self._waiting or self._swap_task is not None)

    async def drained(self) -> None:
        """Return once no lease is held, no request waits and no swap runs."""
        while self.busy():
            self._pumped.clear()
            await self._pumped.wait()

    async def refresh(self) -> dict[str, LoadedModel]:
        """Re-read what the server holds (the manager also does this before every swap)."""
        self._resident = {canonical_name(m.name): m for m in await self.backend.loaded()}
        self._stopping &= self._resident.keys()
        return dict(self._resident)

    async def aclose(self) -> None:
        """Stop background work and close the backend's connections."""
        for task in (self._home_task, self._swap_task, *self._prefetches.values()):
            if task is not None and not task.done():
                task.cancel()
                with suppress(asyncio.CancelledError, Exception):
                    await task
        self._home_task = self._swap_task = None
        await self.backend.aclose()

    def _chat_model(self, role: Role) -> BaseChatModel:
        if role in self._chat_models:
            return self._chat_models[role]
        chat = self.backend.chat_model(
            self.settings.model_for(role),
            self.settings.options_for(role),
            self.settings.keep_alive_for(role),
        )
        # An in-process backend's chat model holds the loaded model itself: never reuse it
        # across loads. A server backend's chat model is only a client: keep one per role.
        if getattr(self.backend, "reusable_chat_models", True):
            self._chat_models[role] = chat
        return chat

    # -- leases --------------------------------------------------------------------------

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        # A new event loop (a second asyncio.run, a notebook kernel): tasks and futures
        # of the old one are dead, residency must be read again.
        self._loop = loop
        self._waiting.clear()
        self._leases.clear()
        self._swap_task = self._home_task = None
        self._swap_role = None
        self._evicting = frozenset()
        self._released = asyncio.Event()
        self._pumped = asyncio.Event()
        self._prefetches.clear()

    async def _acquire(self, role: Role) -> str:
        self._bind_loop()
        ticket = next(self._tickets)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[ticket] = (role, future)
        self._pump()
        try:
            await future
        except asyncio.CancelledError:
            if (
                self._waiting.pop(ticket, None) is None
                and future.done()
                and not (future.cancelled() or future.exception())
            ):
                self._release(self._models[role])
            self._pump()
            raise
        return self._models[role]

    def _release(self, model: str) -> None:
        self._leases[model] -= 1
        if self._leases[model] <= 0:
            del self._leases[model]
        self._released.set()
        self._pump()

    def _servable(self) -> frozenset[Role]:
        return frozenset(
            r
            for r in ROLES
            if self._models[r] in self._resident
            and self._models[r] not in self._evicting
            and self._models[r] not in self._stopping
        )

    def _pump(self) -> None:
        """Admit what can run now, start the swap the oldest waiter needs, arm the home timer."""
        waiting = [Waiter(t, role) for t, (role, _) in self._waiting.items()]
        admission = admit(waiting, self._servable(), self._contended, self.settings.batch_limit)
        head = admission.head
        if head != self._head:
            self._head = head
            self._contended.clear()
        for ticket in admission.grants:
            role, future = self._waiting.pop(ticket)
            if head is not None and ticket > head:
                self._contended[role] += 1
            self._leases[self._models[role]] += 1
            self.last_role = role
            future.set_result(None)
        if admission.next_role is not None and self._swap_task is None:
            self._start_swap(admission.next_role, "request")
        self._arm_home()
        self._pumped.set()

    # -- swaps ---------------------------------------------------------------------------

    def _start_swap(self, role: Role, reason: str) -> None:
        self._swap_role = role
        self._swap_task = asyncio.get_running_loop().create_task(
            self._swap(role, reason), name=f"orquestra-swap-{role}"
        )

    async def _footprint(self, role: Role) -> int:
        model = self._models[role]
        options = self.settings.options_for(role)
        await self.ledger.aload()
        known = self.ledger.get(model, options)
        if known is not None:
            return known.size
        facts = await self.backend.facts(self.settings.model_for(role))
        return estimate_footprint(facts.weights_bytes, facts.model_info, options["num_ctx"])

    def _residents(self) -> list[Resident]:
        roles = {model: role for role, model in self._models.items()}
        return [
            Resident(
                model=name, footprint=m.size_vram, leases=self._leases[name], role=roles.get(name)
            )
            for name, m in self._resident.items()
        ]

    async def _plan(self, role: Role) -> tuple[SwapPlan, int]:
        """Decide, waiting out `Blocked` answers until the leases in the way are released."""
        await self.refresh()
        model = self._models[role]
        if model in self._stopping:  # it must leave before it can load again
            await self.backend.wait_unloaded(model, self.settings.unload_timeout_s)
            await self.refresh()
        if model in self._resident:
            return SwapPlan(), 0
        footprint = await self._footprint(role)
        while True:
            decision = decide(
                SwapRequest(role, self._models[role], footprint), self._residents(), self.limits
            )
            if isinstance(decision, Blocked):
                self._released.clear()
                self._pump()  # admissions may have changed now that residency is fresh
                await self._released.wait()
                await self.refresh()
                continue
            if isinstance(decision, Refusal):
                error = ModelTooLargeError if decision.kind == "too_large" else PolicyError
                raise error(decision.reason)
            return decision, footprint

    async def _swap(self, role: Role, reason: str) -> None:
        plan = SwapPlan()
        try:
            plan, footprint = await self._plan(role)
            if plan.actions:
                self._evicting = frozenset(plan.unloads)
                roles = {model: r for r, model in self._models.items()}
                event, self._resident = await self._swapper.run(
                    plan,
                    resident=self._resident,
                    roles=roles,
                    leased=frozenset(self._leases),
                    estimated=footprint,
                    reason=reason,
                    # Measured after the unload and VRAM wait, which a prefetch overlaps.
                    before_load=lambda: self._cache_state(role),
                )
                self._record(event)
                await self._standby_prefetch()
            self._home_failed = False
            self.last_error = None
        except Exception as exc:
            self.last_error = str(exc)
            self._stopping.update(plan.unloads)  # asked to leave; the server decides when
            if reason == "home":
                self._home_failed = True
                log.warning("Could not bring the home model back: %s", exc)
            self._fail_waiters(role, exc)
            with suppress(Exception):
                await self.refresh()
        finally:
            self._evicting = frozenset()
            self._swap_task = None
            self._swap_role = None
            self._pump()

    def _record(self, event: SwapEvent) -> None:
        self._swap_count += 1
        self._events.append(event)
        del self._events[:-MAX_EVENTS_KEPT]
        log.info("%s", event.describe())
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("Swap listener failed")

    def _fail_waiters(self, role: Role, exc: Exception) -> None:
        for ticket, (waiting_role, future) in list(self._waiting.items()):
            if waiting_role == role:
                del self._waiting[ticket]
                if not future.done():
                    future.set_exception(exc)

    # -- home model ----------------------------------------------------------------------

    def _home_due(self) -> bool:
        home = self.settings.home_role
        if home == "none" or self._home_failed or self._swap_task is not None:
            return False
        away: Role = "executor" if home == "brain" else "brain"
        return (
            self._models[home] not in self._resident
            and self._models[away] in self._resident
            and not self._waiting
            and self._leases[self._models[away]] == 0
        )

    def _arm_home(self) -> None:
        due = self._home_due()
        if due and self._home_task is None:
            self._home_task = asyncio.get_running_loop().create_task(
                self._go_home(), name="orquestra-home"
            )
        elif not due and self._home_task is not None:
            self._home_task.cancel()
            self._home_task = None

    async def _go_home(self) -> None:
        try:
            await asyncio.sleep(self.settings.home_after_s)
        except asyncio.CancelledError:
            return
        self._home_task = None
        if self._home_due() and self.settings.home_role != "none":
            self._start_swap(self.settings.home_role, "home")
