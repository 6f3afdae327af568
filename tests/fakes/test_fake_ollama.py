"""The fake Ollama server keeps the contract of `shared/docs/ollama-api.md`, over HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from tests.fakes.ollama import OOM_MESSAGE, FakeOllamaState, fake_model, running

# Loopback only: no proxy from the environment may stand in between.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(url: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps({"stream": False, **body}).encode()
    request = urllib.request.Request(url + path, data=data)
    try:
        with _OPENER.open(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def listed(url: str) -> list[str]:
    return [m["name"] for m in call(url, "/api/ps")[1]["models"]]


def test_unload_is_asynchronous_ps_first_then_vram() -> None:
    """§10: the 200 "unload" comes back while /api/ps still lists the model."""
    state = FakeOllamaState([fake_model("m", 4.0)], unload_ps_s=0.5, vram_release_s=0.3)
    with running(state) as server:
        assert call(server.url, "/api/generate", {"model": "m"})[1]["done_reason"] == "load"
        status, body = call(server.url, "/api/generate", {"model": "m", "keep_alive": 0})
        assert (status, body["done_reason"]) == (200, "unload")
        assert listed(server.url) == ["m:latest"]
        assert state.vram_used() > 0
        deadline = time.monotonic() + 10
        while listed(server.url) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert listed(server.url) == []
        while state.vram_used() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert state.vram_used() == 0
    gone, freed = state.events("ps_gone", "m")[0], state.events("vram_freed", "m")[0]
    assert gone.vram_used > 0 and freed.vram_used == 0 and freed.t > gone.t


def test_a_load_that_does_not_fit_beside_another_is_a_500_out_of_memory() -> None:
    """§13: the OOM is a 500 whose text the runtime matches on, not a structured code."""
    state = FakeOllamaState([fake_model("a", 10.0), fake_model("b", 10.0)], vram_total_gb=16)
    with running(state) as server:
        assert call(server.url, "/api/generate", {"model": "a", "keep_alive": -1})[0] == 200
        status, body = call(server.url, "/api/generate", {"model": "b"})
        assert (status, body) == (500, {"error": OOM_MESSAGE})
        assert "out of memory" in body["error"] and "cudaMalloc failed" in body["error"]
        assert listed(server.url) == ["a:latest"]
    assert state.events("oom", "b") and not state.loads["b:latest"]


def test_explicit_layers_refuse_what_automatic_layers_offload_in_part() -> None:
    state = FakeOllamaState([fake_model("big", 20.0)], vram_total_gb=16)
    with running(state) as server:
        strict = {"model": "big", "options": {"num_gpu": 99}}
        assert call(server.url, "/api/generate", strict) == (500, {"error": OOM_MESSAGE})
        assert call(server.url, "/api/generate", {"model": "big"})[0] == 200
        (runner,) = call(server.url, "/api/ps")[1]["models"]
        assert runner["size_vram"] == state.vram_total < runner["size"]


def test_unknown_model_busy_queue_bad_keep_alive_and_option_drift() -> None:
    """404, 503 and 400 carry Ollama's texts; a new num_ctx reloads the runner (§11)."""
    state = FakeOllamaState([fake_model("m", 4.0)])
    with running(state) as server:
        assert call(server.url, "/api/chat", {"model": "nope", "messages": []}) == (
            404,
            {"error": "model 'nope:latest' not found"},
        )
        state.busy_503 = 1
        status, body = call(server.url, "/api/generate", {"model": "m"})
        assert status == 503 and "maximum pending requests exceeded" in body["error"]
        assert call(server.url, "/api/generate", {"model": "m", "keep_alive": "300"}) == (
            400,
            {"error": 'time: missing unit in duration "300"'},
        )
        for num_ctx in (4096, 4096, 8192):
            options = {"num_ctx": num_ctx}
            assert call(server.url, "/api/generate", {"model": "m", "options": options})[0] == 200
        assert (state.loads["m:latest"], state.reloads["m:latest"]) == (2, 1)
        assert call(server.url, "/api/ps")[1]["models"][0]["context_length"] == 8192
