"""VRAM accounting for the fake server: runners, their asynchronous unload, the timeline.

A runner that is asked to stop leaves `/api/ps` after `unload_ps_s` and frees its VRAM
`vram_release_s` later still (§10); an idle runner expires when its keep_alive runs out
(§9). Those delayed effects are applied lazily, in time order, whenever the state is read.
Every VRAM change is recorded on a timeline so tests can check what the card held at every
instant, not just at the end.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.ollama.models import GIB, canonical, details


@dataclass
class Runner:
    model: str
    options: dict[str, Any]
    size: int
    size_vram: int
    keep_alive_s: float
    ready: threading.Event = field(default_factory=threading.Event)
    active: int = 0
    stop_requested: bool = False
    leave_ps_at: float | None = None
    free_at: float | None = None
    expires_at: float = float("inf")


@dataclass(frozen=True)
class TimelineEntry:
    t: float
    event: str
    model: str
    vram_used: int


class VramLedger:
    """The card: loaded runners, runners still releasing memory, and the VRAM timeline."""

    def __init__(self, vram_total_gb: float, unload_ps_s: float, vram_release_s: float) -> None:
        self.vram_total = int(vram_total_gb * GIB)
        self.unload_ps_s = unload_ps_s
        self.vram_release_s = vram_release_s
        self.lock = threading.RLock()
        self.runners: dict[str, Runner] = {}
        self.releasing: list[Runner] = []
        self.timeline: list[TimelineEntry] = []
        self.t0 = time.monotonic()

    def _used(self) -> int:
        return sum(r.size_vram for r in self.runners.values()) + sum(
            r.size_vram for r in self.releasing
        )

    def vram_used(self) -> int:
        with self.lock:
            self._advance(time.monotonic())
            return self._used()

    def _log(self, t: float, event: str, model: str) -> None:
        self.timeline.append(TimelineEntry(t - self.t0, event, model, self._used()))

    def _advance(self, now: float) -> None:
        """Apply the delayed effects (leaving ps, freeing VRAM, expiry) due by `now`, in order."""
        while True:
            due: list[tuple[float, str, Runner]] = []
            for r in self.runners.values():
                if r.leave_ps_at is not None and r.leave_ps_at <= now:
                    due.append((r.leave_ps_at, "ps_gone", r))
                elif r.active == 0 and r.ready.is_set() and r.expires_at <= now:
                    due.append((r.expires_at, "expired", r))
            due += [(r.free_at, "vram_freed", r) for r in self.releasing if r.free_at <= now]  # type: ignore[operator]
            if not due:
                return
            t, kind, runner = min(due, key=lambda d: d[0])
            if kind == "expired":
                runner.leave_ps_at = t
                runner.free_at = t + self.vram_release_s
            elif kind == "ps_gone":
                del self.runners[runner.model]
                self.releasing.append(runner)
                self._log(t, "ps_gone", runner.model)
            else:
                self.releasing.remove(runner)
                self._log(t, "vram_freed", runner.model)

    def _schedule_stop(self, runner: Runner, now: float) -> None:
        if runner.leave_ps_at is None:
            runner.leave_ps_at = now + self.unload_ps_s
            runner.free_at = runner.leave_ps_at + self.vram_release_s

    def max_vram_used(self) -> int:
        with self.lock:
            return max((e.vram_used for e in self.timeline), default=0)

    def residency(self, model: str) -> list[tuple[float, float]]:
        """Intervals during which `model` held VRAM (from load start to memory freed)."""
        model = canonical(model)
        intervals, start = [], None
        for e in self.timeline:
            if e.model != model:
                continue
            if e.event == "load_start" and start is None:
                start = e.t
            elif e.event in ("vram_freed", "reload_freed") and start is not None:
                intervals.append((start, e.t))
                start = None
        if start is not None:
            intervals.append((start, float("inf")))
        return intervals

    def events(self, event: str, model: str | None = None) -> list[TimelineEntry]:
        return [
            e
            for e in self.timeline
            if e.event == event and (model is None or e.model == canonical(model))
        ]

    def ps(self) -> dict[str, Any]:
        """The body of GET /api/ps: runners still listed, longest keep_alive first (§4)."""
        with self.lock:
            self._advance(time.monotonic())
            models = []
            for r in sorted(self.runners.values(), key=lambda r: -r.expires_at):
                if r.keep_alive_s < 0:
                    expires = datetime.now(UTC) + timedelta(days=365 * 290)
                elif r.stop_requested:
                    expires = datetime.now(UTC)
                else:
                    expires = datetime.now(UTC) + timedelta(seconds=r.keep_alive_s)
                models.append(
                    {
                        "name": r.model,
                        "model": r.model,
                        "size": r.size,
                        "size_vram": r.size_vram,
                        "digest": "f" * 64,
                        "details": details(),
                        "expires_at": expires.isoformat(),
                        "context_length": r.options["num_ctx"],
                    }
                )
            return {"models": models}
