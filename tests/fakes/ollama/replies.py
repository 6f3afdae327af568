"""Canned chat/generate replies: the bodies the fake sends and the demo conversation.

`done_reply` is the handler's short-cut answer to an empty request (`done_reason` "load"
or "unload", no metrics, §2-§3); `generation_reply` wraps a scripted message as Ollama
streams it (a chunk, then a final line with metrics) or sends it whole. `demo_reply` plays
both models plausibly for the notebook, the Studio smoke test and `python -m`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.fakes.ollama.models import timestamp

Reply = Callable[[dict[str, Any]], dict[str, Any] | str]


def done_reply(model: str, *, chat: bool, reason: str) -> dict[str, Any]:
    """The answer to an empty request: it loaded or unloaded the model, nothing more."""
    return {
        "model": model,
        "created_at": timestamp(),
        "done": True,
        "done_reason": reason,
        **({"message": {"role": "assistant", "content": ""}} if chat else {"response": ""}),
    }


def generation_reply(
    model: str, message: dict[str, Any], load_s: float, *, chat: bool, stream: bool
) -> list[dict[str, Any]] | dict[str, Any]:
    """`message` as NDJSON lines (a chunk, then the final line) or as one merged body."""
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
        "created_at": timestamp(),
        "done": True,
        "done_reason": "stop",
        **metrics,
    }
    if chat:
        chunk = {"model": model, "created_at": timestamp(), "message": message, "done": False}
        final["message"] = {"role": "assistant", "content": ""}
    else:
        chunk = {
            "model": model,
            "created_at": timestamp(),
            "response": message.get("content", ""),
            "done": False,
        }
        final["response"] = ""
    if stream:
        return [chunk, final]
    merged = dict(final)
    if chat:
        merged["message"] = message
    else:
        merged["response"] = chunk["response"]
    return merged


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
