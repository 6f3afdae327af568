"""Building the model manager from settings, and the process-wide one."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

from orquestra.backends.base import ModelBackend
from orquestra.backends.embedded import EmbeddedBackend, llama_available
from orquestra.backends.llama_server import LlamaServerBackend
from orquestra.backends.ollama import OllamaBackend, server_version
from orquestra.client.autostart import find_or_start
from orquestra.client.remote import RemoteManager
from orquestra.embedded import assets
from orquestra.errors import BackendUnavailableError, ManagerBusyError, ModelNotFoundError
from orquestra.lineup import MODEL_VARIABLE, ConcreteBackend, Lineup, Upstream, redact
from orquestra.manager import LineupView, ModelManager
from orquestra.service import ModelService
from orquestra.settings import ROLES, Settings, load_settings
from orquestra.vram import NvmlProbe

_MANAGER: ModelService | None = None
# Replaced managers being closed in the background (kept so their tasks are not collected).
_RETIRING: set[asyncio.Task[None]] = set()


# The embedded default must hold one model but not both, so swaps are real (the 1.5B brain
# takes about 1.5 GiB with its KV cache, the 0.5B executor about 0.7 GiB).
EMBEDDED_BUDGET_GB = 2.0
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
    for role in ROLES:
        variable = MODEL_VARIABLE[role]
        name = changes.get(f"{role}_model", getattr(settings, f"{role}_model"))
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


def choose_backend(settings: Settings) -> ConcreteBackend:
    """The backend `ORQUESTRA_BACKEND` names (blocking: `auto` probes Ollama).

    `auto` is Ollama when it answers, else the embedded models.

    Raises:
        BackendUnavailableError: `auto` found neither (the message says how to get one).
    """
    if settings.backend != "auto":
        return settings.backend
    if server_version(settings.ollama_base_url, OLLAMA_PROBE_TIMEOUT_S) is not None:
        return "ollama"
    if llama_available():
        return "embedded"
    raise BackendUnavailableError(
        f"No model backend: Ollama does not answer at {redact(settings.ollama_base_url)} "
        f"(start it with `ollama serve`, or set OLLAMA_BASE_URL) and the embedded "
        f"backend is not installed (run: {assets.INSTALL_HINT})."
    )


def requested_lineup(settings: Settings, backend: ConcreteBackend) -> Lineup:
    """The lineup `settings` ask of `backend` (the embedded models by default on it)."""
    if backend == "embedded":
        settings = embedded_settings(settings)
    return Lineup.of(settings, Upstream.of(settings, backend))


def select_backend(settings: Settings) -> tuple[ModelBackend, Settings]:
    """The backend `ORQUESTRA_BACKEND` selects, and the settings it runs with (blocking).

    `auto` is Ollama when it answers, else the embedded backend when llama-cpp-python is
    installed (its models are fetched into the cache on first use).

    Raises:
        BackendUnavailableError: Neither backend can be used (the message says how to get one).
    """
    choice = choose_backend(settings)
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

    Either serves this process's lineup (its settings' models and options, on its
    backend's upstream). See `orquestra.client.autostart.find_or_start` for how the
    scheduler is found, started or replaced; `ORQUESTRA_URL=none` keeps the manager here.
    """
    settings = settings or load_settings()
    if settings.in_process:
        return build_model_manager(settings)
    lineup = requested_lineup(settings, choose_backend(settings))
    url = find_or_start(settings, lineup)
    if url is None:
        return build_model_manager(settings)
    return RemoteManager.connect(url, settings, lineup)


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
    """The process-wide manager, serving a run's models (empty: the configured ones).

    Other models need no new manager: the one manager (or scheduler) serves every
    lineup under the same budget, leases and batching. Another swap policy does, in
    this process: a run naming one waits until no run holds or waits for a model (at
    most `wait_s`, then a clear `ManagerBusyError`), closes the manager and installs one
    with that policy, which adopts whatever the server already holds. Built in a worker
    thread, since reading settings touches `.env` and graph nodes must not block. A
    scheduler (`orquestra serve`) keeps its own policy: one GPU, one policy.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        current = _MANAGER
        if current is None:
            current = await asyncio.to_thread(get_model_manager)
        manager = current.manager if isinstance(current, LineupView) else current
        if not isinstance(manager, ModelManager) or manager.settings.swap_policy == swap_policy:
            return await current.for_models(brain_model, executor_model)
        have = manager.settings.swap_policy
        if manager.busy():
            try:
                await asyncio.wait_for(manager.drained(), max(deadline - loop.time(), 0.0))
            except TimeoutError:
                raise ManagerBusyError(
                    f"This run asks for policy={swap_policy}, but runs with policy={have} "
                    f"kept the GPU for {wait_s:.0f} s. One process has one manager per GPU: "
                    "give concurrent runs the same policy (ORQUESTRA_SWAP_POLICY), or run "
                    "them one after the other."
                ) from None
            continue  # look again: another run may have reconfigured it meanwhile
        rebuilt = await asyncio.to_thread(
            build_model_manager, manager.settings, swap_policy=swap_policy
        )
        if _MANAGER is not current or manager.busy():  # someone got there first
            await rebuilt.aclose()
            continue
        set_model_manager(rebuilt)  # closes `current`
        return await rebuilt.for_models(brain_model, executor_model)
