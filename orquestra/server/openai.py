"""The OpenAI-compatible `/v1/chat/completions` and `/v1/models`, on Ollama's native chat.

Ollama's own `/v1` endpoint cannot carry runner options, so a client of it would load
the model with the server's defaults and make it reload. Here the request is translated
to `/api/chat`, pinned like every other request, and the answer translated back
(streamed as server-sent events when the client asks for a stream). Errors come in
OpenAI's shape, so its SDKs raise with the message: before the answer, with their status;
mid-stream, as an event with an `error` object, and the stream ends.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orquestra.server.errors import (
    MID_STREAM_STATUS,
    as_openai,
    error_response,
    openai_error_body,
)
from orquestra.server.gateway import LeasedStream
from orquestra.server.routes import (
    Handler,
    answers_like_ollama,
    forward_for,
    gateway_of,
    json_body,
)
from orquestra.server.shapes import check_openai

# OpenAI sampling fields, which are also the names of the Ollama options they become.
_SAMPLING = ("temperature", "top_p", "seed", "stop", "presence_penalty", "frequency_penalty")


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def _message(message: dict[str, Any]) -> dict[str, Any]:
    native: dict[str, Any] = {"role": message.get("role"), "content": _text(message.get("content"))}
    calls = message.get("tool_calls") or []
    if calls:
        native["tool_calls"] = [
            {"function": {"name": c["function"]["name"], "arguments": _arguments(c)}} for c in calls
        ]
    if message.get("role") == "tool" and message.get("name"):
        native["tool_name"] = message["name"]
    return native


def _arguments(call: dict[str, Any]) -> Any:
    raw = call["function"].get("arguments") or "{}"
    return json.loads(raw) if isinstance(raw, str) else raw


def to_native(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat request as Ollama's `/api/chat` body."""
    options = {name: body[name] for name in _SAMPLING if name in body}
    if body.get("max_tokens") or body.get("max_completion_tokens"):
        options["num_predict"] = body.get("max_completion_tokens") or body["max_tokens"]
    native: dict[str, Any] = {
        "model": body.get("model"),
        "messages": [_message(m) for m in body.get("messages") or []],
        "stream": bool(body.get("stream", False)),
        "options": options,
    }
    if body.get("tools"):
        native["tools"] = body["tools"]
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_object":
        native["format"] = "json"
    elif fmt.get("type") == "json_schema":
        native["format"] = fmt.get("json_schema", {}).get("schema", {})
    return native


def _calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{uuid.uuid4().hex[:12]}",
            "type": "function",
            "index": i,
            "function": {
                "name": c["function"]["name"],
                "arguments": json.dumps(c["function"].get("arguments") or {}),
            },
        }
        for i, c in enumerate(message.get("tool_calls") or [])
    ]


def _finish(chunk: dict[str, Any], calls: list[dict[str, Any]]) -> str | None:
    if not chunk.get("done"):
        return None
    if calls:
        return "tool_calls"
    return "length" if chunk.get("done_reason") == "length" else "stop"


def from_native(chunk: dict[str, Any], completion: str, *, stream: bool) -> dict[str, Any]:
    """One Ollama chat answer (or streamed chunk) as an OpenAI completion (or chunk)."""
    message = chunk.get("message") or {}
    calls = _calls(message)
    content: dict[str, Any] = {"role": "assistant", "content": message.get("content", "")}
    if calls:
        content["tool_calls"] = calls
    answer: dict[str, Any] = {
        "id": completion,
        "object": "chat.completion.chunk" if stream else "chat.completion",
        "created": int(time.time()),
        "model": chunk.get("model"),
        "choices": [
            {
                "index": 0,
                "delta" if stream else "message": content,
                "finish_reason": _finish(chunk, calls),
            }
        ],
    }
    if chunk.get("done"):
        prompt, output = chunk.get("prompt_eval_count", 0), chunk.get("eval_count", 0)
        answer["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": output,
            "total_tokens": prompt + output,
        }
    return answer


def answers_like_openai(handler: Handler) -> Handler:
    """`handler` with errors answered as `answers_like_ollama` does, in OpenAI's shape."""
    native = answers_like_ollama(handler)

    @functools.wraps(handler)
    async def answering(request: Request) -> Response:
        return as_openai(await native(request))

    return answering


@answers_like_openai
async def chat_completions(request: Request) -> Response:
    """`/v1/chat/completions`, translated to a pinned, leased `/api/chat`."""
    body = await json_body(request)
    check_openai(body)
    spec = await gateway_of(request).spec_of(str(body.get("model") or ""))
    answer = await forward_for(request, "/api/chat", to_native(body), spec)
    completion = f"chatcmpl-{uuid.uuid4().hex}"
    if not isinstance(answer, LeasedStream):
        if answer.status_code != 200:
            return answer
        data = json.loads(bytes(answer.body))
        return JSONResponse(from_native(data, completion, stream=False))
    return LeasedStream(_events(answer, completion), answer.stack, "text/event-stream")


async def _events(answer: LeasedStream, completion: str) -> AsyncIterator[bytes]:
    pending = b""
    async for raw in answer.body_iterator:
        pending += raw if isinstance(raw, bytes) else str(raw).encode()
        *lines, pending = pending.split(b"\n")
        for line in filter(None, lines):
            chunk = json.loads(line)
            if "error" in chunk:
                error = openai_error_body(MID_STREAM_STATUS, str(chunk["error"]))
                yield f"data: {json.dumps(error)}\n\n".encode()
                return
            event = from_native(chunk, completion, stream=True)
            yield f"data: {json.dumps(event)}\n\n".encode()
    yield b"data: [DONE]\n\n"


async def models(request: Request) -> Response:
    """`/v1/models`: every model the upstream has (each served through the scheduler)."""
    gateway = gateway_of(request)
    try:
        response = await gateway.upstream.get("/api/tags")
    except httpx.TransportError:
        return error_response(gateway.unreachable())
    listed = response.json().get("models", []) if response.status_code == 200 else []
    data = [
        {
            "id": m.get("model") or m.get("name"),
            "object": "model",
            "created": 0,
            "owned_by": "orquestra",
        }
        for m in listed
    ]
    return JSONResponse({"object": "list", "data": data})


def openai_routes() -> list[Route]:
    """The OpenAI-compatible routes."""
    return [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
    ]
