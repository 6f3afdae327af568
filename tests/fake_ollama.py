"""A stateful fake Ollama server speaking the real wire protocol over loopback.

It follows `shared/docs/ollama-api.md`: empty generate/chat requests load (`done_reason:
"load"`), `keep_alive: 0` unloads *asynchronously* (the model leaves `/api/ps` after a
delay and its VRAM is freed later still, §10), a load that does not fit in VRAM answers
500 out of memory, unknown models 404, a full queue 503, and a request whose runner
options differ from the loaded runner's reloads it (§11). Like Ollama's scheduler it
waits (up to 5 s) for VRAM still being released before it loads the next model.

Every VRAM change is recorded on a timeline so tests can check what the card held at
every instant, not just at the end. `FakeNvml` reads the same ledger as NVML would.

Run standalone: `python -m tests.fake_ollama --port 11434` (for benchmarks, notebooks).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from orquestra.vram import VramReading

GIB = 1024**3
# Ollama's scheduler waits this long for freed VRAM to show up before loading (§10).
SERVER_VRAM_RECOVERY_WAIT_S = 5.0
# The server's own default context when a request sets no num_ctx (§12, < 24 GiB cards).
SERVER_DEFAULT_NUM_CTX = 4096
# Compute-graph memory the fake runner adds to weights and KV cache.
FAKE_GRAPH_BYTES = 300 * 1024**2
# Options whose change makes Ollama reload the runner (§11).
RUNNER_OPTIONS = ("num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread")
OOM_MESSAGE = "llama runner process has terminated: cudaMalloc failed: out of memory"


@dataclass
class FakeModel:
    """A pulled model: its weights and the geometry that sizes its KV cache."""

    name: str
    weights: int
    layers: int = 48
    kv_heads: int = 8
    head_dim: int = 128
    heads: int = 40
    capabilities: tuple[str, ...] = ("completion", "tools")
    blob: str | None = None
    """Path named by the modelfile's FROM line (a real file lets prefetch read it)."""

    def kv_bytes(self, num_ctx: int) -> int:
        return self.layers * self.kv_heads * self.head_dim * 2 * 2 * num_ctx

    def runner_size(self, num_ctx: int) -> int:
        return self.weights + self.kv_bytes(num_ctx) + FAKE_GRAPH_BYTES

    def model_info(self) -> dict[str, Any]:
        return {
            "general.architecture": "qwen2",
            "general.parameter_count": self.weights * 2,
            "qwen2.block_count": self.layers,
            "qwen2.attention.head_count": self.heads,
            "qwen2.attention.head_count_kv": self.kv_heads,
            "qwen2.embedding_length": self.heads * self.head_dim,
            "qwen2.context_length": 32768,
        }


def fake_model(name: str, loaded_gb: float, num_ctx: int = 8192, **kw: Any) -> FakeModel:
    """A model that takes `loaded_gb` GiB once loaded with `num_ctx`."""
    probe = FakeModel(name=canonical(name), weights=0, **kw)
    weights = int(loaded_gb * GIB) - probe.kv_bytes(num_ctx) - FAKE_GRAPH_BYTES
    if weights <= 0:
        raise ValueError(f"{loaded_gb} GiB is too small for that geometry")
    probe.weights = weights
    return probe


def canonical(name: str) -> str:
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


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


Reply = Callable[[dict[str, Any]], dict[str, Any] | str]


class FakeOllamaState:
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
        self.models = {m.name: m for m in models}
        self.vram_total = int(vram_total_gb * GIB)
        self.load_s = load_s
        self.unload_ps_s = unload_ps_s
        self.vram_release_s = vram_release_s
        self.version = version
        self.lock = threading.RLock()
        self.runners: dict[str, Runner] = {}
        self.releasing: list[Runner] = []
        self.timeline: list[TimelineEntry] = []
        self.loads: Counter[str] = Counter()
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
        self.t0 = time.monotonic()

    # -- VRAM ledger ---------------------------------------------------------------------

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

    # -- scheduling ------------------------------------------------------------------------

    def _options(self, raw: dict[str, Any] | None) -> dict[str, Any]:
        opts = {"num_ctx": SERVER_DEFAULT_NUM_CTX, "num_gpu": -1}
        opts.update({k: v for k, v in (raw or {}).items() if k in RUNNER_OPTIONS})
        return opts

    def ensure_loaded(
        self, name: str, raw_options: dict[str, Any] | None, keep_alive: Any
    ) -> tuple[int, dict[str, Any] | None, float]:
        """Load `name` if needed. Returns (status, error body or None, load seconds)."""
        if not self.fifo:
            return self._ensure_loaded(name, raw_options, keep_alive)
        with self._turns:
            ticket, self._tickets = self._tickets, self._tickets + 1
            self._turns.wait_for(lambda: self._serving == ticket)
        try:
            return self._ensure_loaded(name, raw_options, keep_alive)
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
        self, name: str, raw_options: Any, keep_alive: Any
    ) -> tuple[int, dict[str, Any] | None, float]:
        start = time.monotonic()
        name = canonical(name)
        options = self._options(raw_options)
        keep_alive_s = parse_keep_alive(keep_alive)
        deadline = start + SERVER_VRAM_RECOVERY_WAIT_S
        while True:
            with self.lock:
                outcome = self._schedule(name, options, keep_alive_s, deadline)
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
        self, name: str, options: dict[str, Any], keep_alive_s: float | None, deadline: float
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

    def _schedule_stop(self, runner: Runner, now: float) -> None:
        if runner.leave_ps_at is None:
            runner.leave_ps_at = now + self.unload_ps_s
            runner.free_at = runner.leave_ps_at + self.vram_release_s

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

    def ps(self) -> dict[str, Any]:
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
                        "details": _details(),
                        "expires_at": expires.isoformat(),
                        "context_length": r.options["num_ctx"],
                    }
                )
            return {"models": models}


def parse_keep_alive(value: Any) -> float | None:
    """keep_alive in seconds (negative = forever), None when absent (§9)."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    units = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    for unit in ("ms", "h", "m", "s"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    if text == "0":
        return 0.0
    raise ValueError(f'time: missing unit in duration "{text}"')


def _details() -> dict[str, Any]:
    return {
        "parent_model": "",
        "format": "gguf",
        "family": "qwen2",
        "families": ["qwen2"],
        "parameter_size": "14B",
        "quantization_level": "Q4_K_M",
    }


def _now() -> str:
    return datetime.now(UTC).isoformat()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and
    # delayed ACKs add 40 ms to every answer.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: Any, ndjson: bool = False) -> None:
        if ndjson:
            data = "".join(json.dumps(b) + "\n" for b in body).encode()
            ctype = "application/x-ndjson"
        elif isinstance(body, str):
            data, ctype = body.encode(), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(body).encode(), "application/json; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def do_HEAD(self) -> None:
        self._send(200, "Ollama is running")

    def do_GET(self) -> None:
        state = self.server.state
        if self._down():
            return
        if self.path == "/":
            self._send(200, "Ollama is running")
        elif self.path == "/api/version":
            self._send(200, {"version": state.version})
        elif self.path == "/api/ps":
            self._send(200, state.ps())
        elif self.path == "/api/tags":
            self._send(
                200,
                {
                    "models": [
                        {
                            "name": m.name,
                            "model": m.name,
                            "modified_at": _now(),
                            "size": m.weights,
                            "digest": "e" * 64,
                            "details": _details(),
                        }
                        for m in state.models.values()
                    ]
                },
            )
        else:
            self._send(404, "404 page not found")

    def _down(self) -> bool:
        """A dead backend: drop the connection without an answer."""
        if not self.server.state.down:
            return False
        self.close_connection = True
        self.connection.shutdown(2)
        return True

    def do_POST(self) -> None:
        state = self.server.state
        body = self._body()
        if self._down():
            return
        with state.lock:
            state.requests.append((self.path, body))
        if self.path in ("/api/generate", "/api/chat"):
            self._generate_or_chat(body, chat=self.path == "/api/chat")
        elif self.path == "/api/pull":
            self._pull(str(body.get("model") or body.get("name") or ""))
        elif self.path == "/api/create":
            self._create(body)
        elif self.path == "/api/show":
            name = canonical(str(body.get("model") or body.get("name") or ""))
            spec = state.models.get(name)
            if not body.get("model") and not body.get("name"):
                self._send(400, {"error": "model is required"})
            elif spec is None:
                self._send(404, {"error": f"model '{name}' not found"})
            else:
                self._send(
                    200,
                    {
                        "modelfile": f"FROM {spec.blob or '/fake/blobs/sha256-' + 'e' * 64}\n",
                        "parameters": "",
                        "template": "{{ .Prompt }}",
                        "details": _details(),
                        "model_info": spec.model_info(),
                        "capabilities": list(spec.capabilities),
                        "modified_at": _now(),
                    },
                )
        else:
            self._send(404, "404 page not found")

    def _pull(self, name: str) -> None:
        state = self.server.state
        spec = state.registry.get(canonical(name))
        lines: list[dict[str, Any]] = [{"status": "pulling manifest"}]
        if spec is None:
            lines.append({"error": "pull model manifest: file does not exist"})
        else:
            digest = "sha256:" + "a" * 64
            for done in (0, spec.weights // 2, spec.weights):
                lines.append(
                    {
                        "status": f"pulling {'a' * 12}",
                        "digest": digest,
                        "total": spec.weights,
                        "completed": done,
                    }
                )
            lines += [
                {"status": "verifying sha256 digest"},
                {"status": "writing manifest"},
                {"status": "success"},
            ]
            with state.lock:
                state.models[spec.name] = spec
        self._send(200, lines, ndjson=True)

    def _create(self, body: dict[str, Any]) -> None:
        state = self.server.state
        name, source = canonical(str(body.get("model", ""))), str(body.get("from", ""))
        base = state.models.get(canonical(source))
        if base is None:
            self._send(404, {"error": f"model '{source}' not found"})
            return
        with state.lock:
            state.models[name] = FakeModel(**{**base.__dict__, "name": name})
            state.created[name] = dict(body)
        self._send(
            200,
            [
                {"status": "using existing layer sha256:" + "b" * 64},
                {"status": "writing manifest"},
                {"status": "success"},
            ],
            ndjson=True,
        )

    def _generate_or_chat(self, body: dict[str, Any], chat: bool) -> None:
        state = self.server.state
        model = str(body.get("model") or "")
        if not model:
            self._send(400, {"error": "model is required"})
            return
        try:
            keep_alive = parse_keep_alive(body.get("keep_alive"))
        except ValueError as exc:
            self._send(400, {"error": str(exc)})
            return
        empty = not (body.get("messages") if chat else body.get("prompt"))
        if empty and keep_alive == 0:
            status, error = state.unload(model)
            if error:
                self._send(status, error)
            else:
                self._send(
                    200,
                    {
                        "model": model,
                        "created_at": _now(),
                        "done": True,
                        "done_reason": "unload",
                        **(
                            {"message": {"role": "assistant", "content": ""}}
                            if chat
                            else {"response": ""}
                        ),
                    },
                )
            return
        spec = state.models.get(canonical(model))
        if chat and body.get("tools") and spec and "tools" not in spec.capabilities:
            self._send(
                400,
                {"error": f"registry.ollama.ai/library/{canonical(model)} does not support tools"},
            )
            return
        status, error, load_s = state.ensure_loaded(
            model, body.get("options"), body.get("keep_alive")
        )
        if error:
            self._send(status, error)
            return
        try:
            if empty:
                self._send(
                    200,
                    {
                        "model": model,
                        "created_at": _now(),
                        "done": True,
                        "done_reason": "load",
                        **(
                            {"message": {"role": "assistant", "content": ""}}
                            if chat
                            else {"response": ""}
                        ),
                    },
                )
                return
            if state.gen_s.get(canonical(model)):
                with state.generation_slot(model):
                    time.sleep(state.gen_s[canonical(model)])
            message = state.next_reply(body)
            metrics = {
                "total_duration": int((load_s + 0.01) * 1e9),
                "load_duration": max(int(load_s * 1e9), 1),
                "prompt_eval_count": 10,
                "prompt_eval_duration": 1_000_000,
                "eval_count": 5,
                "eval_duration": 5_000_000,
            }
            final = {
                "model": model,
                "created_at": _now(),
                "done": True,
                "done_reason": "stop",
                **metrics,
            }
            if chat:
                chunk = {"model": model, "created_at": _now(), "message": message, "done": False}
                final["message"] = {"role": "assistant", "content": ""}
            else:
                chunk = {
                    "model": model,
                    "created_at": _now(),
                    "response": message.get("content", ""),
                    "done": False,
                }
                final["response"] = ""
            if body.get("stream", True):
                self._send(200, [chunk, final], ndjson=True)
            else:
                merged = dict(final)
                if chat:
                    merged["message"] = message
                else:
                    merged["response"] = chunk["response"]
                self._send(200, merged)
        finally:
            state.finish(model)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: FakeOllamaState


class FakeOllama:
    """The fake server running in a background thread on 127.0.0.1."""

    def __init__(self, state: FakeOllamaState, port: int = 0) -> None:
        self.state = state
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.state = state
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeOllama:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def running(state: FakeOllamaState) -> Iterator[FakeOllama]:
    server = FakeOllama(state).start()
    try:
        yield server
    finally:
        server.stop()


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


def demo_reply(body: dict[str, Any]) -> dict[str, Any] | str:
    """Plausible replies for demos (notebook, Studio smoke test) when no Ollama is reachable.

    The brain plans (two steps, one with code), reflects on the real stdout it is shown,
    and answers plainly otherwise; the executor writes a script summing 1 to 10.
    """
    schema = body.get("format")
    messages = body.get("messages") or [{}]
    last = str(messages[-1].get("content", ""))
    if isinstance(schema, dict) and "steps" in schema.get("properties", {}):
        return json.dumps(
            {
                "goal": "sum the numbers from 1 to 10",
                "steps": [
                    {"description": "Write and run a script that sums 1 to 10", "needs_code": True},
                    {"description": "Explain the result", "needs_code": False},
                ],
            }
        )
    if isinstance(schema, dict) and "verdict" in schema.get("properties", {}):
        printed = "55" if "55" in last else "nothing useful"
        return json.dumps(
            {
                "verdict": "done",
                "revision": "",
                "answer": f"The script ran and printed {printed}: the sum is 55.",
            }
        )
    if isinstance(schema, dict) and "task_type" in schema.get("properties", {}):
        return json.dumps({"task_type": "conversation", "reason": "a question"})
    if "coder" in str(body.get("model")):
        return "Aqui está:\n\n```python\nprint(sum(range(1, 11)))\n```"
    return "Olá! I am the brain of the demo (fake Ollama server)."


def default_models() -> list[FakeModel]:
    """The founding pairing on a 16 GiB card: a 13 GiB brain and a 9 GiB executor."""
    return [
        fake_model("qwen2.5-32b-instruct-moe-rtx", 13.0),
        fake_model("qwen2.5-coder:14b", 9.0),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--vram-gb", type=float, default=16.0)
    args = parser.parse_args()
    state = FakeOllamaState(default_models(), vram_total_gb=args.vram_gb)
    state.default_reply = demo_reply
    server = FakeOllama(state, args.port)
    print(f"fake Ollama on {server.url}", flush=True)
    server._server.serve_forever()


if __name__ == "__main__":
    main()
