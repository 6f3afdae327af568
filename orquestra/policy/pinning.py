"""Pinning a client's request to the options its model was loaded with. Pure.

Ollama reloads a model whenever a request's runner options differ from the loaded
runner's (`num_ctx`, `num_gpu`, ...), and lets each request's `keep_alive` replace the
model's. In front of Ollama, the scheduler owns both: every request is sent with the
role's pinned runner options and keep_alive, whatever the client asked, and what was
overridden is reported so it can be counted and shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The options that make Ollama stop a runner and start a new one when they change.
RUNNER_OPTIONS = (
    "num_ctx",
    "num_gpu",
    "num_batch",
    "main_gpu",
    "use_mmap",
    "num_thread",
    "draft_num_predict",
)


@dataclass(frozen=True)
class Pinned:
    """A request as it is sent upstream, and what of the client's was overridden."""

    body: dict[str, Any]
    overridden: tuple[str, ...]
    """Runner options the client set to other values (or set while none is pinned)."""
    keep_alive_overridden: bool
    """Whether the client sent a keep_alive of its own."""


def pin_request(
    body: Mapping[str, Any], pinned: Mapping[str, Any], keep_alive: float | str
) -> Pinned:
    """`body` with the runner options replaced by `pinned` and the scheduler's keep_alive.

    Args:
        body: The client's request (chat, generate or embed).
        pinned: The runner options the role's model is loaded with.
        keep_alive: The role's keep_alive (the scheduler decides when models leave).
    """
    options = dict(body.get("options") or {})
    overridden = tuple(
        key for key in RUNNER_OPTIONS if key in options and options[key] != pinned.get(key)
    )
    for key in RUNNER_OPTIONS:
        options.pop(key, None)
    options.update(pinned)
    sent = {**body, "options": options, "keep_alive": keep_alive}
    return Pinned(sent, overridden, "keep_alive" in body and body["keep_alive"] != keep_alive)
