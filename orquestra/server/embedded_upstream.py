"""Ollama's API answered in this process, over the manager's own chat models.

With no Ollama (the CPU default), the scheduler itself holds the embedded llama.cpp models
and is the gateway's upstream (through `httpx.ASGITransport`), so every client on the
machine shares one copy of them in memory. The same goes for a llama-server router: its
models are reached through the backend's OpenAI-compatible chat models, so Ollama clients
can use it through `orquestra serve`. The gateway has already pinned the model's spec and
taken the lease, so the model is resident when a request arrives here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orquestra.errors import OrquestraError
from orquestra.lineup import ModelSpec
from orquestra.manager import ModelManager
from orquestra.server.errors import error_response, ollama_error
from orquestra.server.gateway import LEASED_CHAT
from orquestra.server.sampling import SamplingError, sampling_kwargs

# What `/api/version` says for the in-process models.
EMBEDDED_VERSION = "orquestra-embedded"


def _message(raw: dict[str, Any]) -> BaseMessage:
    role, content = raw.get("role"), str(raw.get("content") or "")
    if role == "system":
        return SystemMessage(content)
    if role == "assistant":
        calls = [
            {
                "name": c["function"]["name"],
                "args": c["function"].get("arguments") or {},
                "id": f"call_{i}",
            }
            for i, c in enumerate(raw.get("tool_calls") or [])
        ]
        return AIMessage(content, tool_calls=calls)
    if role == "tool":
        return ToolMessage(content, tool_call_id=str(raw.get("tool_call_id") or "call_0"))
    return HumanMessage(content)


def _bound(chat: BaseChatModel, body: dict[str, Any]) -> Any:
    """`chat` with the request's output format or tools."""
    fmt = body.get("format")
    if isinstance(fmt, dict):
        return chat.bind(response_format={"type": "json_object", "schema": fmt})
    if fmt == "json":
        return chat.bind(response_format={"type": "json_object"})
    if body.get("tools"):
        return chat.bind_tools(body["tools"])
    return chat


def _finish(reply: Any) -> str | None:
    """Why the chat model stopped (`length`: at the request's `num_predict`)."""
    metadata = getattr(reply, "response_metadata", None) or {}
    return metadata.get("finish_reason")


class EmbeddedUpstream:
    """Ollama's chat, generate, ps, tags, show and version over the manager's chat models."""

    def __init__(self, manager: ModelManager) -> None:
        self.manager = manager

    def _spec(self, model: str) -> ModelSpec | None:
        return self.manager.lineups.pinned.get(self.manager.backend.canonical(model))

    def _chat(self, spec: ModelSpec) -> BaseChatModel:
        leased = LEASED_CHAT.get()  # the gateway's lease on this model, granted with it
        return leased or self.manager.backend.chat_model(spec.model, spec.options, spec.keep_alive)

    async def generation(self, request: Request) -> Response:
        """`/api/chat` and `/api/generate` (answered whole; the gateway relays them)."""
        body = await request.json()
        model = str(body.get("model") or "")
        spec = self._spec(model)
        if spec is None:
            return ollama_error(404, f"model '{model}' not found")
        try:
            sampling = sampling_kwargs(body.get("options"))
        except SamplingError as exc:
            return ollama_error(400, str(exc))
        chat = request.url.path == "/api/chat"
        if chat:
            messages = [_message(m) for m in body.get("messages") or []]
        else:
            system = [SystemMessage(body["system"])] if body.get("system") else []
            messages = [*system, HumanMessage(str(body.get("prompt") or ""))]
        try:
            reply = await _bound(self._chat(spec), body).bind(**sampling).ainvoke(messages)
        except OrquestraError as exc:
            return error_response(exc)
        text = str(reply.content) if isinstance(reply, BaseMessage) else json.dumps(reply)
        answer: dict[str, Any] = {
            "model": model,
            "created_at": datetime.now(UTC).isoformat(),
            "done": True,
            "done_reason": "length" if _finish(reply) == "length" else "stop",
        }
        usage = getattr(reply, "usage_metadata", None) or {}
        answer["prompt_eval_count"] = usage.get("input_tokens", 0)
        answer["eval_count"] = usage.get("output_tokens", 0)
        if chat:
            message: dict[str, Any] = {"role": "assistant", "content": text}
            calls = getattr(reply, "tool_calls", None) or []
            if calls:
                message["tool_calls"] = [
                    {"function": {"name": c["name"], "arguments": c["args"]}} for c in calls
                ]
            answer["message"] = message
        else:
            answer["response"] = text
        if body.get("stream", True):
            return Response(json.dumps(answer) + "\n", media_type="application/x-ndjson")
        return JSONResponse(answer)

    async def ps(self, request: Request) -> Response:
        """The resident embedded models, sizes as Ollama reports them."""
        loaded = await self.manager.backend.loaded()
        models = [
            {"name": m.name, "model": m.name, "size": m.size, "size_vram": m.size_vram}
            for m in loaded
        ]
        return JSONResponse({"models": models})

    async def tags(self, request: Request) -> Response:
        """Every model the backend can serve, as pulled models."""
        available = await self.manager.backend.available()
        models = [{"name": n, "model": n, "size": size} for n, size in available.items()]
        return JSONResponse({"models": models})

    async def show(self, request: Request) -> Response:
        """What is known of an embedded model before it loads."""
        model = str((await request.json()).get("model") or "")
        try:
            facts = await self.manager.backend.facts(model)
        except OrquestraError as exc:
            return error_response(exc)
        return JSONResponse(
            {"model_info": dict(facts.model_info), "capabilities": ["completion", "tools"]}
        )

    async def version(self, request: Request) -> Response:
        """The in-process models have no Ollama version."""
        return JSONResponse({"version": EMBEDDED_VERSION})

    def app(self) -> Starlette:
        """The ASGI app the gateway's upstream client talks to."""
        return Starlette(
            routes=[
                Route("/api/chat", self.generation, methods=["POST"]),
                Route("/api/generate", self.generation, methods=["POST"]),
                Route("/api/ps", self.ps, methods=["GET"]),
                Route("/api/tags", self.tags, methods=["GET"]),
                Route("/api/show", self.show, methods=["POST"]),
                Route("/api/version", self.version, methods=["GET"]),
            ]
        )
