"""Malformed and oversized bodies get a 400 or 413 naming the problem, never a bare 500."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.ollama import FakeOllamaState
from tests.graph_support import EXECUTOR
from tests.orquestra.server.conftest import Scheduler

HI = [{"role": "user", "content": "hi"}]
MALFORMED = [
    ("/api/chat", {"model": EXECUTOR, "messages": HI, "options": 5}),
    ("/api/chat", {"model": EXECUTOR, "messages": "abc"}),
    ("/api/chat", {"model": EXECUTOR, "messages": [5]}),
    ("/api/chat", {"model": 7, "messages": HI}),
    ("/api/generate", {"model": EXECUTOR, "prompt": "hi", "options": [1, 2]}),
    ("/v1/chat/completions", {"model": EXECUTOR, "messages": "abc"}),
    ("/v1/chat/completions", {"model": EXECUTOR, "messages": [5]}),
    ("/v1/chat/completions", {"model": EXECUTOR, "messages": HI, "temperature": "hot"}),
    ("/orquestra/lease", {"role": 5}),
    ("/api/pull", {"model": {"x": 1}}),
]


@pytest.mark.parametrize(("path", "body"), MALFORMED)
def test_a_malformed_body_is_a_400(
    scheduler: Scheduler, state: FakeOllamaState, path: str, body: object
) -> None:
    answer = httpx.post(scheduler.url + path, json=body, timeout=30)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]
    assert state.loads == {}


@pytest.mark.parametrize("path", ["/api/chat", "/v1/chat/completions", "/orquestra/lineup"])
@pytest.mark.parametrize(
    "raw",
    [b"[" * 200_000 + b"]" * 200_000, b"\xff\xfe not utf-8", b"[1, 2]", b'{"model": '],
    ids=["nested 200 000 deep", "not UTF-8", "not an object", "cut short"],
)
def test_bodies_that_are_not_a_json_object_are_a_400(
    scheduler: Scheduler, path: str, raw: bytes
) -> None:
    answer = httpx.post(
        scheduler.url + path, content=raw, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert answer.status_code == 400, answer.text[:300]


def test_a_body_over_the_limit_is_a_413_naming_the_setting(
    scheduler: Scheduler, state: FakeOllamaState
) -> None:
    limit = int(scheduler.manager.settings.serve_max_body_mb * 2**20)
    big = b'{"model": "x", "prompt": "' + b"a" * (limit + 1) + b'"}'
    told = httpx.post(scheduler.url + "/api/generate", content=big, timeout=60)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(big), 2**20):
            yield big[start : start + 2**20]

    streamed = httpx.post(scheduler.url + "/api/generate", content=chunks(), timeout=60)
    for answer in (told, streamed):
        assert answer.status_code == 413
        assert "ORQUESTRA_SERVE_MAX_BODY_MB" in answer.json()["error"]
    assert state.loads == {}
