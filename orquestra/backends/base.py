"""The interface every model backend (Ollama, embedded llama.cpp) offers the manager.

A backend owns everything about its server: how it names models (`canonical`), what it
can do (`capabilities`, as fields, never probed with `getattr`), and the effects (load,
unload, list, chat). The scheduler compares models only by their canonical names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from langchain_core.language_models import BaseChatModel

# Host names of this machine (besides 127.x.y.z).
LOCAL_HOSTS = ("localhost", "::1", "0.0.0.0")


def is_local(url: str) -> bool:
    """Whether the server at `url` runs on this machine (its files and processes are here)."""
    host = urlsplit(url).hostname or ""
    return host in LOCAL_HOSTS or host.startswith("127.")


@dataclass(frozen=True)
class LoadedModel:
    """A model the backend holds in memory now."""

    name: str
    size: int
    """Bytes of the whole runner."""
    size_vram: int
    """The part of `size` in VRAM."""


@dataclass(frozen=True)
class ModelFacts:
    """What the backend knows about a model before loading it."""

    name: str
    weights_bytes: int
    model_info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, declared once."""

    reusable_chat_models: bool
    """A chat model stays valid across loads (a server client), so one per role is kept;
    False when it holds the loaded model itself (in-process) and a new one is made per use."""
    suspension: bool
    """Unloading can keep a model's tokenizer and context while its weights leave memory
    (`suspended()` lists them)."""
    ollama_api: bool = False
    """Its server speaks Ollama's API at `url`, so `orquestra serve` forwards to it as it
    is; otherwise `orquestra serve` answers Ollama's API in-process over its chat models."""
    loads_on_request: bool = False
    """A request for a model it does not hold makes it load the model by itself (Ollama
    does), so what it holds is read again before every lease, never trusted from before."""


class ModelBackend(Protocol):
    """Loads, unloads and lists models; makes chat models bound to pinned options."""

    name: str
    capabilities: Capabilities
    url: str
    """Where its server listens (empty when the models run in this process)."""

    def canonical(self, model: str) -> str:
        """The one name this backend lists `model` under (aliases and tags resolved)."""
        ...

    def suspended(self) -> list[str]:
        """Models unloaded but kept suspended (empty unless `capabilities.suspension`)."""
        ...

    async def load(self, model: str, options: Mapping[str, Any], keep_alive: float | str) -> float:
        """Load `model` with `options`; return the seconds the load took."""
        ...

    async def unload(self, model: str) -> None:
        """Ask the backend to unload `model` (it may leave later: see `wait_unloaded`)."""
        ...

    async def wait_unloaded(self, model: str, timeout_s: float) -> None:
        """Return once `model` is no longer listed as loaded; raise on timeout."""
        ...

    async def loaded(self) -> list[LoadedModel]:
        """List the models loaded now."""
        ...

    async def weights_path(self, model: str) -> Path | None:
        """The local file holding the model's weights, when this machine can read it."""
        ...

    async def facts(self, model: str) -> ModelFacts:
        """Describe an available model (raises ModelNotFoundError if it is not available)."""
        ...

    async def available(self) -> dict[str, int]:
        """Every model it can serve: canonical name -> weights bytes."""
        ...

    def chat_model(
        self, model: str, options: Mapping[str, Any], keep_alive: float | str
    ) -> BaseChatModel:
        """Return a LangChain chat model that sends exactly these options on every call."""
        ...

    async def aclose(self) -> None:
        """Release the backend's connections."""
        ...


async def loaded_by_name(backend: ModelBackend) -> dict[str, LoadedModel]:
    """What `backend` holds now, by canonical name (the one way loaded models are named)."""
    return {backend.canonical(m.name): m for m in await backend.loaded()}
