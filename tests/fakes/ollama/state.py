"""The fake server's state machine: what is pulled, what loads, when, and what it answers.

It follows `shared/docs/ollama-api.md`: a load that does not fit in VRAM answers 500 out
of memory, unknown models 404, a full queue 503, and a request whose runner options differ
from the loaded runner's reloads it (§11). Like Ollama's scheduler it waits (up to 5 s)
for VRAM still being released before it loads the next model (§10). The VRAM accounting
itself (runners, asynchronous unload, timeline) lives in `ledger.py`.

Strict accounting for tests of a scheduler in front of it: `implicit_loads` counts loads
that a request carrying content (chat messages, a prompt) set off, where Orquestra loads
only with empty requests (§2); `errors_500` counts the 500 answers the server sent;
`restart()` is an Ollama restart (every runner gone at once).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from tests.fakes.ollama.ledger import Runner, VramLedger
from tests.fakes.ollama.models import (
    OOM_MESSAGE,
    RUNNER_OPTIONS,
    SERVER_DEFAULT_NUM_CTX,
    SERVER_VRAM_RECOVERY_WAIT_S,
    FakeModel,
    canonical,
    parse_keep_alive,
)
from tests.fakes.ollama.replies import Reply


class FakeOllamaState(VramLedger):
    """The server's state: pulled models, runners, VRAM, timeline and scripted faults."""

    def __init__(
        self,
        models: list[FakeModel],
        *,
        vram_total_gb: float = 16.0,
        load_s: float = 0.05,
        unload_ps_s: float = 0.03,
        vram_release_s: float = 0.03,
        version: str = "0.33.0",
    ) -> None:
        super().__init__(vram_total_gb, unload_ps_s, vram_release_s)
        self.models = {m.name: m for m in models}
        self.load_s = load_s
        self.version = version
        self.loads: Counter[str] = Counter()
        self.implicit_loads: Counter[str] = Counter()
        """Loads set off by a request with content (Ollama loads for any request), by model."""
        self.errors_500 = 0
        """500 answers sent (out of memory, runner failures), to any client."""
        self.reloads: Counter[str] = Counter()
        self.unload_requests: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.busy_503 = 0
        self.load_failures: list[tuple[int, str]] = []
        self.replies: list[Reply | str] = []
        self.model_replies: dict[str, list[Reply | str]] = {}
        self.default_reply: Reply | str = "ok"
        self.chats: Counter[str] = Counter()
        self.down = False
        self.answers_to_break = 0
        """The next this many chat, generate and pull answers break mid-way (`break_answer`)."""
        self.registry: dict[str, FakeModel] = {}
        # Benchmark hooks: Ollama-style eviction, load times, generation times.
        self.auto_evict = False
        self.sched_poll_s = 0.0
        self.load_time: Callable[[str], float] | None = None
        self.after_load: Callable[[str], None] | None = None
        self.gen_s: dict[str, float] = {}
        # Ollama's request queue (§11): requests pass the scheduler one at a time, in the
        # order they came, and each runner serves `num_parallel` requests at once.
        self.fifo = False
        self.num_parallel: int | None = None
        self._turns = threading.Condition()
        self._tickets = 0
        self._serving = 0
        self._slots: dict[str, threading.Semaphore] = {}
        self.created: dict[str, dict[str, Any]] = {}

    # -- scheduling ------------------------------------------------------------------------

    def _options(self, raw: dict[str, Any] | None) -> dict[str, Any]:
        opts = {"num_ctx": SERVER_DEFAULT_NUM_CTX, "num_gpu": -1}
        opts.update({k: v for k, v in (raw or {}).items() if k in RUNNER_OPTIONS})
        return opts

    def ensure_loaded(
        self,
        name: str,
        raw_options: dict[str, Any] | None,
        keep_alive: Any,
        *,
        implicit: bool = False,
    ) -> tuple[int, dict[str, Any] | None, float]:
        """Load `name` if needed. Returns (status, error body or None, load seconds).

        `implicit`: the request carries content, so a load it sets off is counted in
        `implicit_loads`.
        """
        if not self.fifo:
            return self._ensure_loaded(name, raw_options, keep_alive, implicit)
        with self._turns:
            ticket, self._tickets = self._tickets, self._tickets + 1
            self._turns.wait_for(lambda: self._serving == ticket)
        try:
            return self._ensure_loaded(name, raw_options, keep_alive, implicit)
        finally:
            with self._turns:
                self._serving += 1
                self._turns.notify_all()

    def generation_slot(self, name: str) -> threading.Semaphore | nullcontext[None]:
        """Held while a request generates on `name`'s runner (one at a time by default)."""
        if self.num_parallel is None:
            return nullcontext()
        with self.lock:
            return self._slots.setdefault(canonical(name), threading.Semaphore(self.num_parallel))

    def _ensure_loaded(
        self, name: str, raw_options: Any, keep_alive: Any, implicit: bool = False
    ) -> tuple[int, dict[str, Any] | None, float]:
        start = time.monotonic()
        name = canonical(name)
        options = self._options(raw_options)
        keep_alive_s = parse_keep_alive(keep_alive)
        deadline = start + SERVER_VRAM_RECOVERY_WAIT_S
        while True:
            with self.lock:
                outcome = self._schedule(name, options, keep_alive_s, deadline, implicit)
            if outcome[0] == "wait":
                time.sleep(outcome[1])
                continue
            if outcome[0] == "busy":  # the VRAM wait starts once that runner is idle
                time.sleep(outcome[1])
                deadline = time.monotonic() + SERVER_VRAM_RECOVERY_WAIT_S
                continue
            if outcome[0] == "error":
                return outcome[1], outcome[2], 0.0
            runner, is_new = outcome[1], outcome[2]
            if is_new:
                time.sleep(self.load_time(name) if self.load_time else self.load_s)
                if self.after_load:
                    self.after_load(name)
                with self.lock:
                    runner.ready.set()
                    self._log(time.monotonic(), "ready", name)
            runner.ready.wait(timeout=60)
            return 200, None, time.monotonic() - start

    def _schedule(
        self,
        name: str,
        options: dict[str, Any],
        keep_alive_s: float | None,
        deadline: float,
        implicit: bool = False,
    ) -> tuple[Any, ...]:
        """One scheduling step: ("wait", s), ("error", status, body) or ("run", runner, new)."""
        now = time.monotonic()
        self._advance(now)
        spec = self.models.get(name)
        if spec is None:
            return "error", 404, {"error": f"model '{name}' not found"}
        if self.busy_503 > 0:
            self.busy_503 -= 1
            return (
                "error",
                503,
                {"error": "server busy, please try again.  maximum pending requests exceeded"},
            )
        runner = self.runners.get(name)
        if runner is not None and runner.stop_requested:
            # A stopping runner finishes leaving before the model loads anew.
            return "wait", max((runner.leave_ps_at or now + 0.005) - now, 0.001)
        if runner is not None and runner.options == options:
            if keep_alive_s is not None:
                runner.keep_alive_s = keep_alive_s
            runner.active += 1
            return "run", runner, False
        if runner is not None:
            # Option drift: Ollama stops the runner and starts a new one (§11).
            del self.runners[name]
            self.reloads[name] += 1
            self._log(now, "reload_freed", name)
        if self.load_failures:
            status, message = self.load_failures.pop(0)
            return "error", status, {"error": message}
        size = spec.runner_size(int(options["num_ctx"]))
        free = self.vram_total - self._used()
        if size > free and self.auto_evict:
            # Ollama's own scheduler: expire idle runners to make room (§11)...
            for other in self.runners.values():
                if other.active == 0 and not other.stop_requested and other.ready.is_set():
                    other.stop_requested = True
                    self._log(now, "unload_request", other.model)
                    self._schedule_stop(other, now)
            # ...and when none is idle, wait until one is.
            if (
                self.runners
                and not self.releasing
                and all(r.active > 0 and not r.stop_requested for r in self.runners.values())
            ):
                return "busy", self.sched_poll_s or 0.005
        pending = self.releasing + [r for r in self.runners.values() if r.leave_ps_at]
        if size > free and pending and now < deadline:
            if self.sched_poll_s:
                # Ollama re-checks free VRAM on a fixed tick (250 ms) before loading (§10).
                return "wait", self.sched_poll_s
            # Like Ollama's scheduler: wait for VRAM that is being released (§10).
            wake = min(r.free_at or r.leave_ps_at or now for r in pending)
            return "wait", max(min(wake, deadline) - now, 0.001)
        if size <= free:
            size_vram = size
        elif int(options["num_gpu"]) < 0 and not self.runners and free > 0:
            size_vram = free  # automatic layer count: a partial offload
        else:
            self._log(now, "oom", name)
            return "error", 500, {"error": OOM_MESSAGE}
        ka = 300.0 if keep_alive_s is None else keep_alive_s
        runner = Runner(name, options, size, size_vram, ka, active=1)
        self.runners[name] = runner
        self.loads[name] += 1
        if implicit:
            self.implicit_loads[name] += 1
        self._log(now, "load_start", name)
        return "run", runner, True

    def finish(self, name: str) -> None:
        """A request on `name` is done: idle runners get their keep_alive timer."""
        with self.lock:
            runner = self.runners.get(canonical(name))
            if runner is None:
                return
            runner.active = max(runner.active - 1, 0)
            now = time.monotonic()
            if runner.active == 0:
                if runner.stop_requested:
                    self._schedule_stop(runner, now)
                elif runner.keep_alive_s < 0:
                    runner.expires_at = float("inf")
                elif runner.keep_alive_s == 0:
                    runner.stop_requested = True
                    self._schedule_stop(runner, now)
                else:
                    runner.expires_at = now + runner.keep_alive_s

    def unload(self, name: str) -> tuple[int, dict[str, Any] | None]:
        name = canonical(name)
        with self.lock:
            now = time.monotonic()
            self._advance(now)
            if name not in self.models:
                return 404, {"error": f"model '{name}' not found"}
            self.unload_requests[name] += 1
            runner = self.runners.get(name)
            if runner is not None:
                runner.stop_requested = True
                self._log(now, "unload_request", name)
                if runner.active == 0:
                    self._schedule_stop(runner, now)
            return 200, None

    def break_answer(self) -> bool:
        """Whether this answer breaks mid-way, as Ollama's dying would (uses up one break)."""
        with self.lock:
            if self.answers_to_break <= 0:
                return False
            self.answers_to_break -= 1
            return True

    def restart(self) -> None:
        """Ollama restarts: every runner is gone at once and its VRAM free (logged freed)."""
        with self.lock:
            now = time.monotonic()
            self._advance(now)
            gone = [*self.runners.values(), *self.releasing]
            self.runners.clear()
            self.releasing.clear()
            for runner in gone:
                runner.ready.set()  # nobody waits for a runner that no longer exists
                self._log(now, "vram_freed", runner.model)

    def script(self, model: str, *replies: Reply | str) -> None:
        """Queue replies for one model (used before the shared `replies` queue)."""
        with self.lock:
            self.model_replies.setdefault(canonical(model), []).extend(replies)

    def next_reply(self, body: dict[str, Any]) -> dict[str, Any]:
        model = canonical(str(body.get("model")))
        with self.lock:
            self.chats[model] += 1
            queue = self.model_replies.get(model)
            if queue:
                script: Reply | str = queue.pop(0)
            elif self.replies:
                script = self.replies.pop(0)
            else:
                script = self.default_reply
        reply = script(body) if callable(script) else script
        return {"role": "assistant", "content": reply} if isinstance(reply, str) else reply
