"""The embedded backend: GGUF models run in-process by llama-cpp-python.

Loading opens the model (weights read into memory, not memory-mapped, so the memory it
takes is real and is given back on unload); unloading closes it. The footprint is
measured for real: the process's resident memory before and after the load. Chat models
are langchain-community's ChatLlamaCpp bound to the already loaded model, so a model is
never loaded twice; their calls run in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from orquestra.backends.base import LoadedModel, ModelFacts
from orquestra.embedded.assets import INSTALL_HINT, assemble, find, model_path
from orquestra.errors import BackendUnavailableError, ModelNotFoundError

# Reply length cap of the embedded chat models (small models ramble).
MAX_TOKENS = 768
# Fixed sampling seed: the same request gives the same reply, run after run.
SAMPLING_SEED = 42


def llama_available() -> bool:
    """Whether llama-cpp-python is installed."""
    return importlib.util.find_spec("llama_cpp") is not None


def resident_bytes() -> int:
    """This process's resident memory (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


class EmbeddedBackend:
    """Effects for the embedded models; `loaded()` reports memory as device memory."""

    name = "embedded"
    # A chat model holds the loaded llama.cpp model: make a new one after every load.
    reusable_chat_models = False

    def __init__(self, cache_dir: Path, *, n_threads: int | None = None) -> None:
        if not llama_available():
            raise BackendUnavailableError(
                f"The embedded backend needs llama-cpp-python. Run: {INSTALL_HINT}"
            )
        self.cache_dir = cache_dir
        self.n_threads = n_threads
        self._models: dict[str, Any] = {}
        self._sizes: dict[str, int] = {}
        self._paths: dict[str, Path] = {}

    def _open(self, model: str, options: Mapping[str, Any]) -> tuple[Any, int]:
        from llama_cpp import Llama

        path = assemble(find(model), self.cache_dir)
        gc.collect()
        before = resident_bytes()
        llama = Llama(
            model_path=str(path),
            n_ctx=int(options.get("num_ctx", 4096)),
            n_gpu_layers=int(options.get("num_gpu", -1)),
            n_threads=self.n_threads,
            use_mmap=False,
            seed=SAMPLING_SEED,
            verbose=False,
        )
        used = resident_bytes() - before
        self._paths[model] = path
        return llama, used if used > 0 else path.stat().st_size

    async def load(self, model: str, options: Mapping[str, Any], keep_alive: float | str) -> float:
        """Open the model (assembling its file on first use); return the seconds it took."""
        start = time.perf_counter()
        key = find(model).name
        if key not in self._models:
            llama, size = await asyncio.to_thread(self._open, key, dict(options))
            self._models[key], self._sizes[key] = llama, size
        return time.perf_counter() - start

    def _close(self, llama: Any) -> None:
        close = getattr(llama, "close", None)
        if callable(close):
            close()
        del llama
        gc.collect()

    async def unload(self, model: str) -> None:
        """Close the model and give its memory back."""
        key = find(model).name
        llama = self._models.pop(key, None)
        self._sizes.pop(key, None)
        if llama is not None:
            await asyncio.to_thread(self._close, llama)

    async def wait_unloaded(self, model: str, timeout_s: float) -> None:
        """Unloading is synchronous here: nothing to wait for."""
        return None

    async def loaded(self) -> list[LoadedModel]:
        """The open models and the memory each took when it was loaded."""
        return [LoadedModel(name, size, size) for name, size in self._sizes.items()]

    async def weights_path(self, model: str) -> Path | None:
        """The assembled GGUF file, once it exists (assembly happens on the first load)."""
        path = model_path(find(model), self.cache_dir)
        return path if await asyncio.to_thread(path.is_file) else None

    async def facts(self, model: str) -> ModelFacts:
        """Size of the model's weights (the GGUF file), for the estimate before a first load."""
        spec = find(model)
        return ModelFacts(name=spec.name, weights_bytes=spec.size)

    def chat_model(
        self, model: str, options: Mapping[str, Any], keep_alive: float | str
    ) -> BaseChatModel:
        """ChatLlamaCpp bound to the loaded model (no second load)."""
        from orquestra.backends.llamacpp_chat import SchemaChatLlamaCpp as ChatLlamaCpp

        key = find(model).name
        llama = self._models.get(key)
        if llama is None:
            raise ModelNotFoundError(f"{model} is not loaded; the manager loads it before use.")
        chat: BaseChatModel = ChatLlamaCpp.model_construct(
            client=llama,
            model_path=str(self._paths[key]),
            n_ctx=int(options.get("num_ctx", 4096)),
            max_tokens=MAX_TOKENS,
            temperature=0.2,
            verbose=False,
        )
        return chat

    async def aclose(self) -> None:
        """Close every open model."""
        for model in list(self._models):
            await self.unload(model)
