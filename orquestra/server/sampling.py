"""A request's sampling options (Ollama's `options`) as a chat model's call kwargs. Pure.

How a reply is drawn is each request's to choose (`temperature`, `seed`, `stop`, ...),
unlike the runner options (`orquestra.policy.pinning.RUNNER_OPTIONS`), which the gateway
pins. The upstream that answers in-process binds these kwargs to the backend's chat
model. They carry llama.cpp's names, which both chat models take: llama-cpp-python's
`create_chat_completion` (the embedded backend) and a llama-server router's `/v1` (its
chat model sends the ones OpenAI's API lacks in the body as they are).

Like Ollama, options this does not know are ignored (runner options, `num_keep`,
`mirostat`, ...), and numbers given for integers are truncated; unlike Ollama (whose
answer is a 500), a value of the wrong type is a `SamplingError` naming the option.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Ollama's numeric sampling options: the call kwarg each becomes, and whether it is an integer.
NUMERIC_OPTIONS: dict[str, tuple[str, bool]] = {
    "temperature": ("temperature", False),
    "top_p": ("top_p", False),
    "top_k": ("top_k", True),
    "min_p": ("min_p", False),
    "typical_p": ("typical_p", False),
    "repeat_penalty": ("repeat_penalty", False),
    "presence_penalty": ("presence_penalty", False),
    "frequency_penalty": ("frequency_penalty", False),
    "seed": ("seed", True),
    "num_predict": ("max_tokens", True),
}
# `max_tokens` for "no limit but the context": what llama-cpp-python (any value <= 0) and
# llama-server (-1) both read so. Ollama's runner reads every `num_predict` <= 0 so too.
UNLIMITED_TOKENS = -1


class SamplingError(ValueError):
    """A sampling option of the wrong type (a 400 for the client); the message names it."""


def _number(name: str, value: Any, *, integer: bool) -> int | float:
    # bool is an int to Python but not a number to a JSON client (nor to Ollama).
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "an integer" if integer else "a number"
        raise SamplingError(f"option {name!r} must be {kind}, not {value!r}")
    return int(value) if integer else float(value)


def _stop(value: Any) -> list[str]:
    """`stop` as a list of strings: Ollama sends a list, OpenAI clients a string or a list."""
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise SamplingError(f"option 'stop' must be a string or a list of strings, not {value!r}")
    return [s for s in stops if s]


def sampling_kwargs(options: Any) -> dict[str, Any]:
    """The sampling in a request's `options` as call kwargs for the backend's chat model.

    Options left out (or null) keep the chat model's own defaults.

    Raises:
        SamplingError: `options` is not an object, or one of its sampling options has the
            wrong type.
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise SamplingError(f"'options' must be an object, not {options!r}")
    kwargs: dict[str, Any] = {}
    for name, (kwarg, integer) in NUMERIC_OPTIONS.items():
        if options.get(name) is not None:
            kwargs[kwarg] = _number(name, options[name], integer=integer)
    if kwargs.get("max_tokens", 1) <= 0:
        kwargs["max_tokens"] = UNLIMITED_TOKENS
    stops = _stop(options["stop"]) if options.get("stop") is not None else []
    if stops:
        kwargs["stop"] = stops
    return kwargs
