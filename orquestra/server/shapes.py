"""The shape of a request body, checked before anything is scheduled.

Ollama's Go server refuses a body whose fields have the wrong JSON type with a 400
(`json: cannot unmarshal …`); `orquestra serve` reads bodies as Python objects, so it
checks the fields it uses itself: a wrong type is a `ValueError` (answered 400 by the
routes, Ollama- or OpenAI-shaped) naming the field, never an exception deep in a handler
(a bare 500) and never a swap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Fields of a chat message that must be text when present.
_MESSAGE_TEXT = ("role", "content")


def _text(body: Mapping[str, Any], field: str, where: str) -> None:
    value = body.get(field)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{where}'{field}' must be a string, not {_kind(value)}")


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else repr(value)[:40]
    )


def _messages(value: Any, *, openai: bool) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise ValueError(f"'messages' must be an array of message objects, not {_kind(value)}")
    for index, message in enumerate(value):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise ValueError(f"{where} must be an object, not {_kind(message)}")
        _text(message, "role", f"{where}.")
        content = message.get("content")
        if openai and isinstance(content, list):  # OpenAI's content parts
            continue
        _text(message, "content", f"{where}.")


def check_native(path: str, body: Mapping[str, Any]) -> None:
    """Ollama's `/api/chat`, `/api/generate`, `/api/embed` and `/api/pull` bodies.

    Raises:
        ValueError: A field the scheduler reads has the wrong type (named in the message).
    """
    for field in ("model", "name", "prompt", "system", "keep_alive_unit"):
        _text(body, field, "")
    if path == "/api/chat":
        _messages(body.get("messages"), openai=False)
    options = body.get("options")
    if options is not None and not isinstance(options, dict):
        raise ValueError(f"'options' must be an object, not {_kind(options)}")


def check_openai(body: Mapping[str, Any]) -> None:
    """An OpenAI `/v1/chat/completions` body.

    Raises:
        ValueError: `model` or `messages` has the wrong type (named in the message).
    """
    _text(body, "model", "")
    _messages(body.get("messages"), openai=True)
