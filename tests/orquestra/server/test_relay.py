"""Relaying an upstream's NDJSON answer: whole lines, and Ollama's ending if it breaks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx

from orquestra.server.relay import relay

UPSTREAM = "http://ollama.test:11434"


class Breaking(httpx.AsyncByteStream):
    """A body that sends `chunks`, then breaks as a dying upstream's connection does."""

    def __init__(self, *chunks: bytes, breaks: bool = True) -> None:
        self.chunks, self.breaks = chunks, breaks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.breaks:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body"
            )


async def relayed(body: Breaking) -> list[bytes]:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=body))
    async with httpx.AsyncClient(transport=transport, base_url=UPSTREAM) as client:
        response = await client.send(client.build_request("POST", "/api/chat"), stream=True)
        return [chunk async for chunk in relay(response)]


async def test_a_broken_answer_ends_with_ollama_s_error_line_and_no_half_line() -> None:
    chunks = await relayed(Breaking(b'{"n": 1}\n{"n"', b': 2}\n{"n": 3, "cut'))
    lines = b"".join(chunks).decode().splitlines()
    assert [json.loads(line) for line in lines[:2]] == [{"n": 1}, {"n": 2}]  # joined again
    (last,) = [json.loads(line) for line in lines[2:]]  # the half line is dropped
    assert f"Ollama at {UPSTREAM}: the connection broke mid-answer" in last["error"]
    assert "peer closed connection" in last["error"] and "ollama serve" in last["error"]


async def test_a_whole_answer_passes_through_unchanged() -> None:
    body = b'{"n": 1}\n{"n": 2, "done": true}\n'
    assert b"".join(await relayed(Breaking(body[:5], body[5:], breaks=False))) == body
