"""`GET /metrics` after a scripted sequence: every counter and histogram as it happened."""

from __future__ import annotations

import json
import threading
from collections import Counter

import httpx
import ollama
import pytest
from prometheus_client.parser import text_string_to_metric_families

from orquestra import telemetry
from orquestra.client.run_reports import report_code_runs_to
from orquestra.policy.decision import GIB
from orquestra.server.metrics import SWAP_STAGES
from tests.fakes.ollama import FakeOllamaState
from tests.graph_support import BRAIN, EXECUTOR
from tests.orquestra.server.conftest import Scheduler, wait_until

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(scheduler: Scheduler) -> Samples:
    answer = httpx.get(f"{scheduler.url}/metrics", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def by(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (n, labels), value in samples.items() if n == name}


def ask(scheduler: Scheduler, model: str) -> None:
    ollama.Client(host=scheduler.url).chat(
        model=model, messages=[{"role": "user", "content": "oi"}], options={"num_ctx": 2048}
    )


def test_metrics_count_what_happened(scheduler: Scheduler, state: FakeOllamaState) -> None:
    for model in (EXECUTOR, BRAIN, EXECUTOR, EXECUTOR):
        ask(scheduler, model)
    with pytest.raises(ollama.ResponseError):
        ask(scheduler, "not-a-model")  # refused before any lease: no model request counted
    for outcome in ("ok", "error", "error", "timeout"):
        reply = httpx.post(f"{scheduler.url}/orquestra/code-runs", json={"exit": outcome})
        assert reply.status_code == 200
    bad = httpx.post(f"{scheduler.url}/orquestra/code-runs", json={"exit": "maybe"})
    assert bad.status_code == 400

    samples = scrape(scheduler)
    events = scheduler.manager.events
    assert len(events) == 3  # executor, brain, executor: the fourth request found it resident
    swaps = Counter((",".join(e.from_models) or "none", e.to_model, e.reason) for e in events)
    assert by(samples, "orquestra_swaps_total") == {
        (("from_model", f), ("reason", r), ("to_model", t)): float(n)
        for (f, t, r), n in swaps.items()
    }
    stage_seconds = {
        "unload": [e.unload_s for e in events],
        "vram_wait": [e.vram_wait_s for e in events],
        "load": [e.load_s for e in events],
        "total": [e.total_s for e in events],
    }
    for stage in SWAP_STAGES:
        labels = (("stage", stage),)
        assert samples[("orquestra_swap_duration_seconds_count", labels)] == 3
        assert samples[("orquestra_swap_duration_seconds_sum", labels)] == pytest.approx(
            sum(stage_seconds[stage])
        )
        inf = samples[("orquestra_swap_duration_seconds_bucket", (("le", "+Inf"), labels[0]))]
        assert inf == 3
    brain, executor = scheduler.manager.model_for("brain"), scheduler.manager.model_for("executor")
    assert by(samples, "orquestra_requests_total") == {
        (("model", executor), ("status", "200")): 3.0,
        (("model", brain), ("status", "200")): 1.0,
    }
    assert by(samples, "orquestra_option_pins_total") == {
        (("model", executor),): 3.0,
        (("model", brain),): 1.0,
    }
    status = scheduler.status()
    loaded = {
        (("model", scheduler.manager.model_for(r)), ("role", r)): 1.0
        for r in ("brain", "executor")
        if status[f"{r}_loaded"]
    }
    assert by(samples, "orquestra_loaded_models") == loaded
    assert (("model", executor), ("role", "executor")) in loaded
    assert samples[("orquestra_vram_budget_bytes", ())] == scheduler.manager.budget_bytes
    assert samples[("orquestra_vram_used_bytes", ())] == pytest.approx(
        status["vram_used_gb"] * GIB, rel=0.01
    )
    assert by(samples, "orquestra_queued_requests") == {
        (("model", brain),): 0.0,
        (("model", executor),): 0.0,
    }
    assert by(samples, "orquestra_code_runs_total") == {
        (("exit", "ok"),): 1.0,
        (("exit", "error"),): 2.0,
        (("exit", "timeout"),): 1.0,
        (("exit", "sandbox_error"),): 0.0,
    }
    assert samples[("orquestra_prefetch_bytes_total", ())] == 0.0  # no weights on this machine


def test_a_request_waiting_for_its_model_is_queued(
    scheduler: Scheduler, state: FakeOllamaState
) -> None:
    executor = scheduler.manager.model_for("executor")
    queued = (("model", executor),)
    with httpx.stream(
        "POST", f"{scheduler.url}/orquestra/lease", json={"role": "brain"}, timeout=20
    ) as lease:
        assert json.loads(next(lease.iter_lines()))["status"] == "granted"
        asking = threading.Thread(target=ask, args=(scheduler, EXECUTOR))
        asking.start()
        wait_until(lambda: by(scrape(scheduler), "orquestra_queued_requests")[queued] == 1.0)
    asking.join(timeout=20)
    assert by(scrape(scheduler), "orquestra_queued_requests")[queued] == 0.0


def test_a_client_reports_its_sandbox_runs_and_prefetches_are_counted(
    scheduler: Scheduler,
) -> None:
    from nodes.code_runs import count_code_run
    from tools.sandbox import run_python

    before = scrape(scheduler)
    report_code_runs_to(scheduler.url)
    try:
        ran = run_python("raise SystemExit(3)", warm=False)
        assert ran.exit_code == 3
        count_code_run(ran)  # as the graph's nodes count each run they make
        telemetry.record_code_run("sandbox_error")
        telemetry.record_prefetch(4096)
        runs = "orquestra_code_runs_total"
        wait_until(lambda: sum(by(scrape(scheduler), runs).values()) == 2)
    finally:
        report_code_runs_to(None)
    after = scrape(scheduler)
    assert by(after, runs) == {
        (("exit", "ok"),): 0.0,
        (("exit", "error"),): 1.0,
        (("exit", "timeout"),): 0.0,
        (("exit", "sandbox_error"),): 1.0,
    }
    prefetched = ("orquestra_prefetch_bytes_total", ())
    assert after[prefetched] - before[prefetched] == 4096


def test_each_app_has_its_own_registry(server, state: FakeOllamaState) -> None:  # type: ignore[no-untyped-def]
    first = Scheduler(server, state, max_queue=8).start()
    second = Scheduler(server, state, max_queue=8).start()
    try:
        httpx.post(f"{first.url}/orquestra/code-runs", json={"exit": "ok"})
        runs = ("orquestra_code_runs_total", (("exit", "ok"),))
        assert scrape(first)[runs] == 1 and scrape(second)[runs] == 0
    finally:
        first.stop()
        second.stop()


def test_the_grafana_dashboard_charts_only_metrics_that_exist(scheduler: Scheduler) -> None:
    import re
    from pathlib import Path

    dashboard = json.loads(
        (Path(__file__).resolve().parents[3] / "docs" / "grafana-dashboard.json").read_text()
    )
    ask(scheduler, EXECUTOR)  # a swap, a request and a pin: every series has a sample
    exposed = {name for name, _ in scrape(scheduler)}
    charted = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"orquestra_[a-z_]+", target["expr"])
    }
    assert charted and charted <= exposed


def test_a_request_refused_for_a_full_queue_is_counted(server, state: FakeOllamaState) -> None:  # type: ignore[no-untyped-def]
    full = Scheduler(server, state, max_queue=0).start()
    try:
        with pytest.raises(ollama.ResponseError):
            ask(full, EXECUTOR)
        executor = full.manager.model_for("executor")
        assert by(scrape(full), "orquestra_requests_total") == {
            (("model", executor), ("status", "503")): 1.0
        }
    finally:
        full.stop()
