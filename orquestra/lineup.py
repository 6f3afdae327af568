"""What a process asks for: its upstream, and per role a model with its runner options.

A `Lineup` is built once from the settings (explicit arguments over the environment
over the defaults: that order is `orquestra.settings.load_settings`'s), resolved by the
backend that serves it (`resolved(backend.canonical)`), and from then on read by field:
the manager leases by it, a client sends it to `orquestra serve`, the status carries it.
Several lineups share one scheduler as long as they name the same `Upstream`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from orquestra.settings import ROLES, Role, Settings

ConcreteBackend = Literal["ollama", "embedded", "llama-server"]
BACKENDS: tuple[ConcreteBackend, ...] = ("ollama", "embedded", "llama-server")

# The environment variable that names each role's model (the settings' aliases).
MODEL_VARIABLE: dict[Role, str] = {"brain": "DEFAULT_MODEL", "executor": "EXECUTOR_MODEL"}

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
# Host names that all mean "this machine" when two upstream URLs are compared.
_LOOPBACK = ("localhost", "127.0.0.1", "::1", "[::1]")


def keep_alive_value(raw: str | float) -> float | str:
    """A keep_alive as Ollama accepts it: a number of seconds, or a duration such as 10m."""
    if isinstance(raw, int | float):
        return float(raw)
    return float(raw) if _NUMBER.match(raw) else raw


def redact(url: str) -> str:
    """`url` without a password (`http://user:***@host`), for messages, status and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


# A URL's password (`scheme://user:password@`), wherever it appears in a text.
_USERINFO_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@]*:)[^\s/@]+@")


def redact_text(text: str) -> str:
    """`text` with the password of every URL in it replaced by `***` (for log lines)."""
    return _USERINFO_PASSWORD.sub(r"\1***@", text)


def _same_place(a: str, b: str) -> bool:
    def where(url: str) -> tuple[str, str, int | None, str]:
        parts = urlsplit(url.rstrip("/"))
        host = (parts.hostname or "").lower()
        host = "localhost" if host in _LOOPBACK or host.startswith("127.") else host
        return parts.scheme, host, parts.port, parts.path

    return where(a) == where(b)


@dataclass(frozen=True)
class Upstream:
    """The server whose models a scheduler drives (one GPU, one upstream)."""

    backend: str
    """`ollama`, `embedded` or `llama-server` (a backend's `name`)."""
    url: str
    """Ollama's or the llama-server router's URL; empty for the embedded models."""

    @classmethod
    def of(cls, settings: Settings, backend: str) -> Upstream:
        """The server `settings` name for `backend` (a concrete backend, not `auto`)."""
        url = {"ollama": settings.ollama_base_url, "llama-server": settings.llama_server_url}
        return cls(backend, url.get(backend, ""))

    def same_as(self, other: Upstream) -> bool:
        """Whether both name one server (loopback spellings compared as one)."""
        return self.backend == other.backend and (
            self.backend == "embedded" or _same_place(self.url, other.url)
        )

    def describe(self) -> str:
        """One human phrase, password redacted: `Ollama at http://localhost:11434`."""
        if self.backend == "embedded":
            return "the embedded models"
        name = "Ollama" if self.backend == "ollama" else "llama-server"
        return f"{name} at {redact(self.url)}"

    def as_dict(self) -> dict[str, str]:
        """Plain data (the URL redacted: this goes over the wire and into the status)."""
        return {"backend": self.backend, "url": redact(self.url)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Upstream:
        """The upstream `as_dict` wrote (ValueError naming what is wrong)."""
        backend = data.get("backend")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}")
        return cls(backend, str(data.get("url") or ""))


@dataclass(frozen=True)
class ModelSpec:
    """One model as it is asked for: its name, its runner options, its keep_alive."""

    model: str
    options: Mapping[str, Any] = field(default_factory=dict)
    """Runner options pinned on every request (num_ctx, num_gpu): a change reloads it."""
    keep_alive: float | str = -1.0
    """How long the server keeps it after a request; the scheduler's, never the client's."""

    def __hash__(self) -> int:
        return hash((self.model, tuple(sorted(self.options.items())), self.keep_alive))

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return {"model": self.model, "options": dict(self.options), "keep_alive": self.keep_alive}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSpec:
        """The spec `as_dict` wrote (ValueError naming what is wrong)."""
        model = data.get("model")
        if not isinstance(model, str) or not model.strip():
            raise ValueError("a model spec needs a model name")
        options = data.get("options") or {}
        if not isinstance(options, Mapping):
            raise ValueError(f"options of {model} must be an object, not {options!r}")
        keep_alive = data.get("keep_alive", -1.0)
        if not isinstance(keep_alive, int | float | str):
            raise ValueError(f"keep_alive of {model} must be seconds or a duration")
        return cls(model.strip(), dict(options), keep_alive_value(keep_alive))


@dataclass(frozen=True)
class Lineup:
    """A process's models: per role a `ModelSpec`, all served by one `Upstream`."""

    upstream: Upstream
    brain: ModelSpec
    executor: ModelSpec

    def spec(self, role: Role) -> ModelSpec:
        """The spec serving `role`."""
        return self.brain if role == "brain" else self.executor

    def model(self, role: Role) -> str:
        """The model serving `role`."""
        return self.spec(role).model

    def roles_of(self, model: str) -> tuple[Role, ...]:
        """The roles `model` serves in this lineup (both when one model does both)."""
        return tuple(r for r in ROLES if self.model(r) == model)

    def with_models(self, brain: str = "", executor: str = "") -> Lineup:
        """This lineup with other models (empty: kept), their runner options kept."""
        return replace(
            self,
            brain=replace(self.brain, model=brain) if brain else self.brain,
            executor=replace(self.executor, model=executor) if executor else self.executor,
        )

    def resolved(self, canonical: Callable[[str], str]) -> Lineup:
        """The lineup with its models named as the backend names them."""
        return replace(
            self,
            brain=replace(self.brain, model=canonical(self.brain.model)),
            executor=replace(self.executor, model=canonical(self.executor.model)),
        )

    def describe(self) -> str:
        """One human phrase: `brain=…, executor=… from Ollama at …`."""
        return (
            f"brain={self.brain.model}, executor={self.executor.model} "
            f"from {self.upstream.describe()}"
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (what a client sends to `orquestra serve`)."""
        return {
            "upstream": self.upstream.as_dict(),
            "brain": self.brain.as_dict(),
            "executor": self.executor.as_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lineup:
        """The lineup `as_dict` wrote (ValueError naming what is wrong)."""
        try:
            return cls(
                Upstream.from_dict(data["upstream"]),
                ModelSpec.from_dict(data["brain"]),
                ModelSpec.from_dict(data["executor"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"a lineup needs upstream, brain and executor ({exc})") from None

    @classmethod
    def of(cls, settings: Settings, upstream: Upstream) -> Lineup:
        """The lineup `settings` ask of `upstream` (names as given: resolve them with it)."""
        return cls(
            upstream,
            ModelSpec(
                settings.brain_model,
                {"num_ctx": settings.brain_num_ctx, "num_gpu": settings.brain_num_gpu},
                keep_alive_value(settings.brain_keep_alive),
            ),
            ModelSpec(
                settings.executor_model,
                {"num_ctx": settings.executor_num_ctx, "num_gpu": settings.executor_num_gpu},
                keep_alive_value(settings.executor_keep_alive),
            ),
        )
