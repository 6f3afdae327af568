"""Building the model manager from settings, and the process-wide one."""

from __future__ import annotations

import asyncio
from typing import Any

from orquestra.backends.base import ModelBackend
from orquestra.backends.ollama import OllamaBackend
from orquestra.errors import SettingsError
from orquestra.manager import ModelManager
from orquestra.settings import Settings, load_settings

_MANAGER: ModelManager | None = None


def build_backend(settings: Settings) -> ModelBackend:
    """Return the backend `ORQUESTRA_BACKEND` selects.

    Raises:
        SettingsError: The embedded backend was asked for but is not available.
    """
    if settings.backend == "embedded":
        raise SettingsError(
            "ORQUESTRA_BACKEND=embedded: the in-process llama.cpp backend is not part of this "
            "version yet. Use ORQUESTRA_BACKEND=ollama (or auto) with a running Ollama."
        )
    return OllamaBackend(settings.ollama_base_url, load_timeout_s=settings.load_timeout_s)


def build_model_manager(settings: Settings | None = None, **overrides: Any) -> ModelManager:
    """Build a new manager from `settings` (default: environment and `.env`) and overrides."""
    if settings is None:
        settings = load_settings(**overrides)
    elif overrides:
        settings = load_settings(**(settings.model_dump() | overrides))
    return ModelManager(settings, build_backend(settings))


def get_model_manager() -> ModelManager:
    """Return the process-wide manager, built from the environment on first use."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = build_model_manager()
    return _MANAGER


def set_model_manager(manager: ModelManager | None) -> None:
    """Replace the process-wide manager (e.g. one built with custom settings, or None)."""
    global _MANAGER
    _MANAGER = manager


async def amanager_for(brain_model: str, executor_model: str, swap_policy: str) -> ModelManager:
    """The process-wide manager, rebuilt if a run asks for other models or another policy.

    One GPU has one manager: a run whose context names other models replaces it (the
    new one adopts whatever the server already holds). Built in a worker thread, since
    reading settings touches `.env` and graph nodes must not block.
    """
    current = _MANAGER
    if current is None:
        current = await asyncio.to_thread(get_model_manager)
    wanted = (brain_model, executor_model, swap_policy)
    have = (
        current.settings.brain_model,
        current.settings.executor_model,
        current.settings.swap_policy,
    )
    if wanted == have:
        return current
    rebuilt = await asyncio.to_thread(
        build_model_manager,
        current.settings,
        brain_model=brain_model,
        executor_model=executor_model,
        swap_policy=swap_policy,
    )
    set_model_manager(rebuilt)
    return rebuilt
