"""The interface every model backend (Ollama, embedded llama.cpp) offers the manager."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel


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
    capabilities: tuple[str, ...] = ()


class ModelBackend(Protocol):
    """Loads, unloads and lists models; makes chat models bound to pinned options."""

    name: str

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

    def chat_model(
        self, model: str, options: Mapping[str, Any], keep_alive: float | str
    ) -> BaseChatModel:
        """Return a LangChain chat model that sends exactly these options on every call."""
        ...

    async def aclose(self) -> None:
        """Release the backend's connections."""
        ...
