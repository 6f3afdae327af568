"""Scripted replies for the brain and the executor on the fake server, and a graph runner."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import HumanMessage

from tests.fakes.ollama import FakeOllamaState

BRAIN = "qwen2.5-32b-instruct-moe-rtx"
EXECUTOR = "qwen2.5-coder:14b"


def plan_reply(*steps: tuple[str, bool], goal: str = "do the task") -> str:
    return json.dumps(
        {
            "goal": goal,
            "steps": [{"description": d, "needs_code": c} for d, c in steps],
        }
    )


def reflection(verdict: str = "done", answer: str = "All done.", revision: str = "") -> str:
    return json.dumps({"verdict": verdict, "answer": answer, "revision": revision})


def code_reply(code: str, prose: str = "Aqui está o script:") -> str:
    return f"{prose}\n\n```python\n{code}\n```"


def tool_call(name: str, **arguments: Any) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"function": {"name": name, "arguments": arguments}}],
    }


def user(text: str) -> dict[str, Any]:
    return {"messages": [HumanMessage(text)]}


def bodies_for(requests: list[tuple[str, dict[str, Any]]], model: str) -> list[dict[str, Any]]:
    """Chat request bodies sent to `model`, in order."""
    name = model if ":" in model else f"{model}:latest"
    return [
        b
        for path, b in requests
        if path == "/api/chat" and b.get("model") in (model, name) and b.get("messages")
    ]


def plans(state: FakeOllamaState) -> list[dict[str, Any]]:
    """The brain's planning requests (structured output with steps)."""
    return [
        body
        for body in bodies_for(state.requests, BRAIN)
        if "steps" in (body.get("format") or {}).get("properties", {})
    ]
