"""The llama-server backend: Orquestra drives a router-mode llama-server it did not start.

The router (`llama-server --models-dir DIR`, see `llama_router.ROUTER_HINT`) runs one
child process per loaded model. Orquestra loads and unloads explicitly and waits for the
model's status in `/models`; it measures each child's footprint (NVML per process on a
GPU, resident memory on the CPU) for the ledger; it keeps each model's KV cache across
swaps (`kv_keeper`). Chat goes through the router's OpenAI-compatible endpoint with
langchain-openai, with `autoload=false`, so a request never makes the router load a model
behind the scheduler's back.

Runner settings (context size, GPU layers, cache types) are the router's: set them on its
command line or in its `--models-preset` file, not per request. Sampling (temperature,
seed, stop, max tokens, ...) is each request's (`llama_server_chat`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from langchain_core.language_models import BaseChatModel

from orquestra.backends.base import Capabilities, LoadedModel, ModelFacts, is_local
from orquestra.backends.kv_keeper import KvKeeper
from orquestra.backends.llama_router import NO_KEEPALIVE, LlamaRouter, RouterModel
from orquestra.backends.process_memory import ProcessVram, find_process, process_footprint
from orquestra.errors import BackendError, SwapTimeoutError
from orquestra.lineup import redact

log = logging.getLogger(__name__)

GIB = 1024**3
# The OpenAI client asks for a key; a router started without --api-key ignores it.
NO_API_KEY = "llama-server"
# Retries of a chat request the router refused for a transient reason (the client's own).
CHAT_RETRIES = 1


class LlamaServerBackend:
    """Effects against one router-mode llama-server on this machine."""

    name = "llama-server"
    # A chat model is a client of the router: one per role serves every load.
    capabilities = Capabilities(reusable_chat_models=True, suspension=False)

    def __init__(
        self,
        base_url: str,
        *,
        kv_cache_gb: float = 0.0,
        load_timeout_s: float = 300.0,
        vram: ProcessVram | None = None,
    ) -> None:
        if not is_local(base_url):
            raise BackendError(
                f"LLAMA_SERVER_URL={redact(base_url)} is not on this machine: Orquestra "
                "measures the router's processes and budgets this machine's GPU, so it must "
                "run beside llama-server. Run Orquestra on the machine the router runs on."
            )
        self.base_url = self.url = base_url.rstrip("/")
        self.router = LlamaRouter(self.base_url)
        self.kv = KvKeeper(self.router, int(kv_cache_gb * GIB))
        self._load_timeout_s = load_timeout_s
        self._vram = vram
        self._names: dict[str, str] = {}
        self._pids: dict[tuple[str, int], int] = {}

    def _remember(self, models: list[RouterModel]) -> list[RouterModel]:
        for model in models:
            self._names[model.id] = model.id
            self._names.update(dict.fromkeys(model.aliases, model.id))
        return models

    async def _model(self, name: str) -> RouterModel:
        model = await self.router.model(name)
        self._remember([model])
        return model

    # -- the backend interface -------------------------------------------------------

    def canonical(self, model: str) -> str:
        """The router's id for `model` (an alias resolves once the router was listed)."""
        return self._names.get(model, model)

    def suspended(self) -> list[str]:
        """A stopped child keeps nothing in memory (its KV is kept on disk instead)."""
        return []

    async def load(self, model: str, options: Mapping[str, Any], keep_alive: float | str) -> float:
        """Start `model`'s child, wait until it is loaded, restore its saved KV.

        `options` and `keep_alive` are the router's to set: Orquestra unloads explicitly.
        """
        start = time.perf_counter()
        entry = await self._model(model)
        if entry.status not in ("loaded", "loading", "sleeping"):
            await self.router.load(entry.id)
        try:
            entry = await self.router.wait_status(
                entry.id, frozenset({"loaded", "sleeping"}), self._load_timeout_s
            )
        except TimeoutError:
            raise SwapTimeoutError(
                f"llama-server did not finish loading {model} in {self._load_timeout_s:.0f}s. "
                f"Raise ORQUESTRA_LOAD_TIMEOUT_S for large models on slow disks."
            ) from None
        tokens = await self.kv.restore(entry)
        if tokens:
            log.info("Restored %d cached tokens of %s", tokens, entry.id)
        return time.perf_counter() - start

    async def unload(self, model: str) -> None:
        """Save the model's slots, then ask the router to stop its child."""
        entry = await self._model(model)
        if not entry.running:
            return
        await self.kv.save(entry)
        await self.router.unload(entry.id)

    async def wait_unloaded(self, model: str, timeout_s: float) -> None:
        """Poll `/models` until the child has exited; raise SwapTimeoutError after `timeout_s`."""
        try:
            await self.router.wait_status(model, frozenset({"unloaded"}), timeout_s)
        except TimeoutError:
            raise SwapTimeoutError(
                f"{model} was asked to unload but llama-server still runs it after "
                f"{timeout_s:.0f}s. Raise ORQUESTRA_UNLOAD_TIMEOUT_S, or check the router's log."
            ) from None

    def _footprint(self, model: RouterModel) -> int:
        """Bytes the model's child process holds now (0 when it cannot be found)."""
        if model.port is None:
            return 0
        key = (model.id, model.port)
        pid = self._pids.get(key) or find_process(("--port", str(model.port)))
        size = process_footprint(pid, self._vram) if pid is not None else None
        if pid is None or size is None:
            self._pids.pop(key, None)
            return 0
        self._pids[key] = pid
        return size

    async def loaded(self) -> list[LoadedModel]:
        """The models whose child runs, each with its process's measured footprint."""
        running = [m for m in self._remember(await self.router.models()) if m.running]
        alive = {(m.id, m.port) for m in running}
        self._pids = {key: pid for key, pid in self._pids.items() if key in alive}
        # /proc and NVML reads: off the event loop (Studio raises on blocking calls).
        sizes = await asyncio.to_thread(lambda: [(m.id, self._footprint(m)) for m in running])
        return [LoadedModel(name, size, size) for name, size in sizes]

    async def weights_path(self, model: str) -> Path | None:
        """The GGUF file named on the model's command line in `/models`."""
        path = (await self._model(model)).model_path
        found = path is not None and await asyncio.to_thread(path.is_file)
        return path if found else None

    async def available(self) -> dict[str, int]:
        """The router's models (sizes are known once each was measured: 0 until then)."""
        return {m.id: 0 for m in self._remember(await self.router.models())}

    async def facts(self, model: str) -> ModelFacts:
        """The model's GGUF size, for the estimate before its first measured load."""
        entry = await self._model(model)
        path = await self.weights_path(entry.id)
        size = (await asyncio.to_thread(path.stat)).st_size if path is not None else 0
        return ModelFacts(name=entry.id, weights_bytes=size)

    def chat_model(
        self, model: str, options: Mapping[str, Any], keep_alive: float | str
    ) -> BaseChatModel:
        """A ChatOpenAI on the router's `/v1` that never autoloads a model (`llama_server_chat`)."""
        from orquestra.backends.llama_server_chat import LlamaServerChatOpenAI

        return LlamaServerChatOpenAI(
            model=self.canonical(model),
            base_url=f"{self.base_url}/v1",
            api_key=NO_API_KEY,
            default_query={"autoload": "false"},
            max_retries=CHAT_RETRIES,
            timeout=self._load_timeout_s,
            http_client=httpx.Client(limits=NO_KEEPALIVE, timeout=self._load_timeout_s),
            http_async_client=httpx.AsyncClient(limits=NO_KEEPALIVE, timeout=self._load_timeout_s),
        )

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self.router.aclose()
