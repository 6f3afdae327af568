"""Building the model manager from settings, and the process-wide one."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

from orquestra.backends.base import ModelBackend
from orquestra.backends.embedded import EmbeddedBackend, llama_available
from orquestra.backends.llama_server import LlamaServerBackend
from orquestra.backends.ollama import OllamaBackend, server_version
from orquestra.embedded import assets
from orquestra.errors import (
    BackendUnavailableError,
    ManagerBusyError,
    ModelNotFoundError,
    PolicyError,
)
from orquestra.manager import ModelManager
from orquestra.server.autostart import find_or_start
from orquestra.server.client import RemoteManager
from orquestra.service import ModelService
from orquestra.settings import Role, Settings, load_settings
from orquestra.vram import NvmlProbe

_MANAGER: ModelService | None = None
# Replaced managers being closed in the background (kept so their tasks are not collected).
_RETIRING: set[asyncio.Task[None]] = set()


# The embedded default must hold one model but not both, so swaps are real (the 1.5B brain
# takes about 1.5 GiB with its KV cache, the 0.5B executor about 0.7 GiB).
EMBEDDED_BUDGET_GB = 2.0
# The variable that names each role's model.
MODEL_VARIABLES: dict[Role, str] = {"brain": "DEFAULT_MODEL", "executor": "EXECUTOR_MODEL"}
# How long `auto` waits for Ollama to answer before trying the embedded backend.
OLLAMA_PROBE_TIMEOUT_S = 1.5
# How long a run that asks for other models waits for the runs of the current ones to end.
RECONFIGURE_WAIT_S = 300.0


def embedded_settings(settings: Settings) -> Settings:
    """Settings for the embedded backend: its own models and budget unless set explicitly."""
    explicit = settings.model_fields_set
    changes: dict[str, Any] = {}
    if "brain_model" not in explicit:
        changes["brain_model"] = assets.BRAIN_MODEL.name
    if "executor_model" not in explicit:
        changes["executor_model"] = assets.EXECUTOR_MODEL.name
    if "vram_budget_gb" not in explicit:
        changes["vram_budget_gb"] = EMBEDDED_BUDGET_GB
    for role, variable in MODEL_VARIABLES.items():
        name = changes.get(f"{role}_model", settings.model_for(role))
        try:
            assets.find(name)  # a clear error now, not at the first load
        except ModelNotFoundError as exc:
            raise ModelNotFoundError(
                f"{variable}={name!r} (the {role}): {exc} Unset {variable} to use the default."
            ) from None
    return settings.model_copy(update=changes)


# Where the budget comes from when the embedded backend chose it (`orquestra status`).
EMBEDDED_BUDGET_SOURCE = (
    f"embedded default ({EMBEDDED_BUDGET_GB:g} GiB: one model at a time; "
    f"ORQUESTRA_VRAM_BUDGET_GB overrides it)"
)


def select_backend(settings: Settings) -> tuple[ModelBackend, Settings]:
    """The backend `ORQUESTRA_BACKEND` selects, and the settings it runs with (blocking).

    `auto` is Ollama when it answers, else the embedded backend when llama-cpp-python is
    installed (its models are fetched into the cache on first use).

    Raises:
        BackendUnavailableError: Neither backend can be used (the message says how to get one).
    """
    choice = settings.backend
    if choice == "auto":
        if server_version(settings.ollama_base_url, OLLAMA_PROBE_TIMEOUT_S) is not None:
            choice = "ollama"
        elif llama_available():
            choice = "embedded"
        else:
            raise BackendUnavailableError(
                f"No model backend: Ollama does not answer at {settings.ollama_base_url} "
                f"(start it with `ollama serve`, or set OLLAMA_BASE_URL) and the embedded "
                f"backend is not installed (run: {assets.INSTALL_HINT})."
            )
    if choice == "embedded":
        settings = embedded_settings(settings)
        return EmbeddedBackend(settings.cache_dir, load_mode=settings.embedded_load), settings
    if choice == "llama-server":
        backend = LlamaServerBackend(
            settings.llama_server_url,
            kv_cache_gb=settings.kv_cache_gb,
            load_timeout_s=settings.load_timeout_s,
            vram=NvmlProbe(settings.gpu_index),
        )
        return backend, settings
    return OllamaBackend(settings.ollama_base_url, load_timeout_s=settings.load_timeout_s), settings


def build_model_manager(settings: Settings | None = None, **overrides: Any) -> ModelManager:
    """Build a new manager from `settings` (default: environment and `.env`) and overrides."""
    if settings is None:
        settings = load_settings(**overrides)
    elif overrides:
        merged = {k: getattr(settings, k) for k in settings.model_fields_set} | overrides
        settings = load_settings(**merged)
    chose_budget = "vram_budget_gb" not in settings.model_fields_set
    backend, settings = select_backend(settings)
    source = EMBEDDED_BUDGET_SOURCE if backend.name == "embedded" and chose_budget else None
    return ModelManager(settings, backend, budget_source=source)


def build_model_service(settings: Settings | None = None) -> ModelService:
    """The manager this process should use: the GPU's `orquestra serve`, else its own.

    See `orquestra.server.autostart.find_or_start` for how the scheduler is found or
    started; `ORQUESTRA_URL=none` keeps the in-process manager.
    """
    settings = settings or load_settings()
    url = find_or_start(settings)
    if url is None:
        return build_model_manager(settings)
    return RemoteManager.connect(url, settings)


def get_model_manager() -> ModelService:
    """Return the process-wide manager, built from the environment on first use."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = build_model_service()
    return _MANAGER


def set_model_manager(manager: ModelService | None) -> None:
    """Replace the process-wide manager (e.g. one built with custom settings, or None).

    The replaced manager is closed (its backend's connections and, for the embedded
    backend, its models), so one process never keeps two: on a running event loop in the
    background, else at once.
    """
    global _MANAGER
    old, _MANAGER = _MANAGER, manager
    if old is not None and old is not manager:
        _retire(old)


def _retire(manager: ModelService) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        with suppress(Exception):
            asyncio.run(manager.aclose())
        return
    task = loop.create_task(manager.aclose(), name="orquestra-retire-manager")
    _RETIRING.add(task)
    task.add_done_callback(_RETIRING.discard)


async def amanager_for(
    brain_model: str,
    executor_model: str,
    swap_policy: str,
    *,
    wait_s: float = RECONFIGURE_WAIT_S,
) -> ModelService:
    """The process-wide manager, reconfigured if a run asks for other models or another policy.

    One GPU has one manager: a run whose context names other models waits until no run
    holds or waits for a model of the current manager (at most `wait_s`, then a clear
    `ManagerBusyError`), closes it and installs one for its models, which adopts whatever
    the server already holds. Never two managers deciding for one GPU. Built in a worker
    thread, since reading settings touches `.env` and graph nodes must not block. Through
    `orquestra serve`, the scheduler's models and policy rule: a run naming other models
    is refused with the fix.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        current = _MANAGER
        if current is None:
            current = await asyncio.to_thread(get_model_manager)
        if isinstance(current, RemoteManager):
            if not current.serves(brain_model, executor_model):
                raise PolicyError(
                    f"This run asks for brain={brain_model or '-'}, executor="
                    f"{executor_model or '-'}, but orquestra serve at {current.url} schedules "
                    f"brain={current.model_for('brain')}, executor="
                    f"{current.model_for('executor')}. Start it with DEFAULT_MODEL / "
                    "EXECUTOR_MODEL naming these models, or set ORQUESTRA_URL=none."
                )
            return current
        if not isinstance(current, ModelManager):
            return current  # a service of the caller's own decides its models
        # Empty names mean "the models the manager was configured with".
        wanted = (
            current.backend.canonical(brain_model) if brain_model else current.model_for("brain"),
            (
                current.backend.canonical(executor_model)
                if executor_model
                else current.model_for("executor")
            ),
            swap_policy,
        )
        have = (
            current.model_for("brain"),
            current.model_for("executor"),
            current.settings.swap_policy,
        )
        if wanted == have:
            return current
        if current.busy():
            try:
                await asyncio.wait_for(current.drained(), max(deadline - loop.time(), 0.0))
            except TimeoutError:
                raise ManagerBusyError(
                    f"This run asks for brain={wanted[0]}, executor={wanted[1]}, "
                    f"policy={wanted[2]}, but runs of brain={have[0]}, executor={have[1]}, "
                    f"policy={have[2]} kept the GPU for {wait_s:.0f} s. One process has one "
                    "manager per GPU: give concurrent runs the same models and policy "
                    "(DEFAULT_MODEL, EXECUTOR_MODEL, ORQUESTRA_SWAP_POLICY), or run them "
                    "one after the other."
                ) from None
            continue  # look again: another run may have reconfigured it meanwhile
        rebuilt = await asyncio.to_thread(
            build_model_manager,
            current.settings,
            brain_model=wanted[0],
            executor_model=wanted[1],
            swap_policy=wanted[2],
        )
        if _MANAGER is not current or current.busy():  # someone got there first
            await rebuilt.aclose()
            continue
        set_model_manager(rebuilt)  # closes `current`
        return rebuilt
