"""`GET /metrics`: the scheduler in Prometheus' text format, one registry per app.

Swaps and code runs are counted as they happen; residency, VRAM, the queue, requests and
option pins are read from the manager and the gateway at each scrape. Names and labels are
stable (the README's metric table lists them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from orquestra import telemetry
from orquestra.backends import llama_thread
from orquestra.events import SwapEvent
from orquestra.vram import NvmlProbe

if TYPE_CHECKING:
    from orquestra.server.gateway import Gateway

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SWAP_STAGES = ("unload", "vram_wait", "load", "total")
# Seconds: a warm swap takes a fraction of one, a cold load of a large model a minute.
SWAP_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)


class SchedulerMetrics:
    """The metrics of one `orquestra serve` app, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.swaps = Counter(
            "orquestra_swaps",
            "Swaps made, by the models unloaded, the model loaded and why.",
            ["from_model", "to_model", "reason"],
            registry=self.registry,
        )
        self.swap_seconds = Histogram(
            "orquestra_swap_duration_seconds",
            "Seconds each stage of a swap took (unload, vram_wait, load) and the whole swap.",
            ["stage"],
            buckets=SWAP_BUCKETS,
            registry=self.registry,
        )
        self.code_runs = Counter(
            "orquestra_code_runs",
            "Sandbox runs clients reported (POST /orquestra/code-runs), by how they ended.",
            ["exit"],
            registry=self.registry,
        )
        for outcome in telemetry.CODE_RUN_OUTCOMES:
            self.code_runs.labels(exit=outcome)
        for stage in SWAP_STAGES:
            self.swap_seconds.labels(stage=stage)
        self._prefetch_base = telemetry.prefetch_bytes()

    def swap(self, event: SwapEvent) -> None:
        """Count one swap and observe its stages."""
        source = ",".join(event.from_models) or "none"
        self.swaps.labels(from_model=source, to_model=event.to_model, reason=event.reason).inc()
        for stage, seconds in zip(
            SWAP_STAGES,
            (event.unload_s, event.vram_wait_s, event.load_s, event.total_s),
            strict=True,
        ):
            self.swap_seconds.labels(stage=stage).observe(seconds)

    def code_run(self, outcome: str) -> None:
        """Count one sandbox run that ended as `outcome` (see `orquestra.telemetry`)."""
        if outcome not in telemetry.CODE_RUN_OUTCOMES:
            raise ValueError(
                f"unknown code run outcome {outcome!r}: one of {telemetry.CODE_RUN_OUTCOMES}"
            )
        self.code_runs.labels(exit=outcome).inc()

    def watch(self, gateway: Gateway) -> None:
        """Export the state of `gateway` and its manager at each scrape."""
        self.registry.register(_StateCollector(gateway, self._prefetch_base))

    def exposition(self) -> bytes:
        """The metrics now, in Prometheus' text format."""
        return generate_latest(self.registry)


class _StateCollector(Collector):
    """Gauges and counters read from the manager and the gateway when scraped."""

    def __init__(self, gateway: Gateway, prefetch_base: int) -> None:
        self.gateway = gateway
        self.prefetch_base = prefetch_base

    def collect(self) -> Iterator[Metric]:
        manager = self.gateway.manager
        status = manager.snapshot()
        loaded = GaugeMetricFamily(
            "orquestra_loaded_models",
            "1 for each of the scheduler's models resident now.",
            labels=["model", "role"],
        )
        leased = GaugeMetricFamily(
            "orquestra_leased_models", "Leases held now, by model.", labels=["model"]
        )
        queued = GaugeMetricFamily(
            "orquestra_queued_requests", "Requests waiting for their model.", labels=["model"]
        )
        for state in status.models:
            if state.resident:
                role = manager.lineups.role_of(state.model) or ""
                loaded.add_metric([state.model, role], 1.0)
            leased.add_metric([state.model], float(state.leases))
            queued.add_metric([state.model], float(state.queued))
        yield from (loaded, leased, queued)
        gpu = GaugeMetricFamily(
            "orquestra_gpu_info", "The GPU this scheduler budgets (1).", labels=["index", "name"]
        )
        name = manager.probe.name() if isinstance(manager.probe, NvmlProbe) else None
        gpu.add_metric([str(manager.settings.gpu_index), name or ""], 1.0)
        yield gpu
        yield GaugeMetricFamily(
            "orquestra_vram_used_bytes",
            "VRAM in use (NVML, else the models the server reports resident).",
            value=float(status.vram_used),
        )
        yield GaugeMetricFamily(
            "orquestra_vram_budget_bytes",
            "VRAM the scheduler may fill with models.",
            value=float(manager.budget_bytes),
        )
        requests = CounterMetricFamily(
            "orquestra_requests",
            "Model requests answered, by model and HTTP status (Ollama's, or 503 queue full).",
            labels=["model", "status"],
        )
        for (model, code), n in sorted(self.gateway.requests.items()):
            requests.add_metric([model, str(code)], float(n))
        yield requests
        pins = CounterMetricFamily(
            "orquestra_option_pins",
            "Requests whose runner options or keep_alive were overridden with the role's.",
            labels=["model"],
        )
        for model, n in sorted(self.gateway.pins.items()):
            pins.add_metric([model], float(n))
        yield pins
        yield CounterMetricFamily(
            "orquestra_generations_stopped",
            "In-process generations stopped at their next step because their client went away.",
            value=float(llama_thread.stopped_total()),
        )
        yield CounterMetricFamily(
            "orquestra_prefetch_bytes",
            "Bytes of model weights prefetches read into the page cache.",
            value=float(telemetry.prefetch_bytes() - self.prefetch_base),
        )
