"""The embedded backend: GGUF models run in-process by llama-cpp-python.

Two ways to hold the weights (`ORQUESTRA_EMBEDDED_LOAD`):

- `mapped` (default): llama.cpp maps the GGUF file read-only and uses the weights in place
  (no repacking into CPU-specific layouts). Unloading *suspends* the model: its weight
  pages are released from the process at once (see `orquestra.embedded.residency`) while
  the tokenizer, metadata and context, KV cache included, stay; loading it again maps the
  pages back from the page cache. A swap then costs about a page-cache read of the file
  instead of llama.cpp's whole load, and a prompt prefix already evaluated before the swap
  is not evaluated again. Where pages cannot be released (not Linux), unloading closes.
- `copied`: the weights are read into memory and repacked for the CPU (faster generation
  on some CPUs); unloading closes the model and the next load does all the work again.

The footprint is measured for real: the process's resident memory before and after the
first load. Chat models are langchain-community's ChatLlamaCpp bound to the loaded model,
so a model is never loaded twice. Everything that touches a model (opening it, every
generation, suspending it, closing it) runs on that model's own thread, in order
(`orquestra.backends.llama_thread`), never on the event loop and never two at once.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from orquestra.backends.base import Capabilities, LoadedModel, ModelFacts
from orquestra.backends.llama_thread import ModelThread
from orquestra.backends.stopping import watch_for_stop
from orquestra.embedded import residency
from orquestra.embedded.assets import EMBEDDED_MODELS, INSTALL_HINT, assemble, find, model_path
from orquestra.errors import BackendUnavailableError, ModelNotFoundError
from orquestra.settings import EmbeddedLoad

# Reply length cap of the embedded chat models (small models ramble).
MAX_TOKENS = 768
# Fixed sampling seed: the same request gives the same reply, run after run.
SAMPLING_SEED = 42

# Llama() builds its model parameters itself; the switch for weight repacking is set by
# wrapping the defaults it starts from, under a lock, for the duration of one load.
_MODEL_PARAMS_LOCK = threading.Lock()


@contextmanager
def _weights_used_in_place() -> Iterator[None]:
    """Loads in this block keep the weights as mapped (no repacked copies)."""
    import llama_cpp.llama_cpp as low_level  # the module Llama() takes its defaults from

    original = low_level.llama_model_default_params

    def defaults() -> Any:
        params = original()
        if hasattr(params, "use_extra_bufts"):
            params.use_extra_bufts = False
        return params

    with _MODEL_PARAMS_LOCK:
        low_level.llama_model_default_params = defaults
        try:
            yield
        finally:
            low_level.llama_model_default_params = original


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


@dataclass
class _OpenModel:
    """One model llama.cpp has open: resident, or suspended (weights released)."""

    llama: Any
    path: Path
    options: dict[str, Any]
    size: int
    """Resident memory the first load took (bytes)."""
    mapping: residency.Mapping | None
    """The weights' read-only mapping, when they can be released and mapped in again."""
    thread: ModelThread
    """Where every call on the model runs, its closing last."""
    resident: bool = True


class EmbeddedBackend:
    """Effects for the embedded models; `loaded()` reports memory as device memory."""

    name = "embedded"
    # A chat model holds the loaded llama.cpp model: make a new one after every load. A
    # mapped model is suspended on unload (tokenizer and context kept, weights released).
    capabilities = Capabilities(reusable_chat_models=False, suspension=True)
    url = ""  # the models run in this process

    def __init__(
        self,
        cache_dir: Path,
        *,
        n_threads: int | None = None,
        load_mode: EmbeddedLoad = "mapped",
    ) -> None:
        if not llama_available():
            raise BackendUnavailableError(
                f"The embedded backend needs llama-cpp-python. Run: {INSTALL_HINT}"
            )
        self.cache_dir = cache_dir
        self.n_threads = n_threads
        self.load_mode = load_mode
        self._open_models: dict[str, _OpenModel] = {}

    def canonical(self, model: str) -> str:
        """The embedded model's own name (aliases resolved; unknown names kept as given)."""
        try:
            return find(model).name
        except ModelNotFoundError:
            return model

    def suspended(self) -> list[str]:
        """Models whose weights were released but whose tokenizer and context stay."""
        return [key for key, entry in self._open_models.items() if not entry.resident]

    def _open(self, model: str, options: dict[str, Any], thread: ModelThread) -> _OpenModel:
        """Open the model (on `thread`, which then owns it and closes it last)."""
        from llama_cpp import Llama

        path = assemble(find(model), self.cache_dir)
        gc.collect()
        before = resident_bytes()
        mapped = self.load_mode == "mapped"
        with _weights_used_in_place() if mapped else nullcontext():
            llama = Llama(
                model_path=str(path),
                n_ctx=int(options.get("num_ctx", 4096)),
                n_gpu_layers=int(options.get("num_gpu", -1)),
                n_threads=self.n_threads,
                use_mmap=mapped,
                seed=SAMPLING_SEED,
                verbose=False,
            )
        used = resident_bytes() - before
        watch_for_stop(llama, thread.flag)
        entry = _OpenModel(
            llama=llama,
            path=path,
            options=options,
            size=used if used > 0 else path.stat().st_size,
            mapping=residency.find_mapping(path) if mapped else None,
            thread=thread,
        )
        thread.close_with(partial(self._close, entry))
        return entry

    async def load(self, model: str, options: Mapping[str, Any], keep_alive: float | str) -> float:
        """Open the model, or map a suspended one in again; return the seconds it took.

        The first load assembles the model's file. A suspended model opened with other
        options (context size) is closed and opened again with the new ones.
        """
        start = time.perf_counter()
        key = find(model).name
        wanted = dict(options)
        entry = self._open_models.get(key)
        if entry is not None and not entry.resident and entry.options != wanted:
            await self._close_model(key)
            entry = None
        if entry is None:
            thread = ModelThread(key)
            try:
                self._open_models[key] = await thread.run(partial(self._open, key, wanted, thread))
            except BaseException:
                await asyncio.to_thread(thread.finish)
                raise
        elif not entry.resident:
            if entry.mapping is not None:  # always set for a suspended model
                await entry.thread.run(partial(residency.populate, entry.mapping))
            entry.resident = True
        return time.perf_counter() - start

    @staticmethod
    def _close(entry: _OpenModel) -> None:
        """Free the model: its thread's last job, after any generation still running.

        In a fixed order: the last generation's sampler (llama-cpp-python keeps it on the
        model, and `close()` leaves it there to be freed whenever the object is collected,
        possibly after the model, during interpreter teardown), then the context, then the
        model (`close()`).
        """
        llama, entry.llama = entry.llama, None
        sampler = getattr(llama, "_sampler", None)
        if sampler is not None:
            llama._sampler = None
            sampler.close()
        close = getattr(llama, "close", None)
        if callable(close):
            close()
        del llama
        gc.collect()

    async def _close_model(self, key: str) -> None:
        entry = self._open_models.pop(key, None)
        if entry is not None:  # not closed already by a concurrent `aclose`
            await asyncio.to_thread(entry.thread.finish)

    async def unload(self, model: str) -> None:
        """Give the model's memory back: suspend it when mapped, else close it."""
        key = find(model).name
        entry = self._open_models.get(key)
        if entry is None or not entry.resident:
            return
        if entry.mapping is not None and await entry.thread.run(
            partial(residency.release, entry.mapping)
        ):
            entry.resident = False
        else:
            await self._close_model(key)

    async def wait_unloaded(self, model: str, timeout_s: float) -> None:
        """Unloading is synchronous here: nothing to wait for."""
        return None

    async def loaded(self) -> list[LoadedModel]:
        """The resident models and the memory each took when it was loaded."""
        return [
            LoadedModel(key, entry.size, entry.size)
            for key, entry in self._open_models.items()
            if entry.resident
        ]

    async def weights_path(self, model: str) -> Path | None:
        """The assembled GGUF file, once it exists (assembly happens on the first load)."""
        path = model_path(find(model), self.cache_dir)
        return path if await asyncio.to_thread(path.is_file) else None

    async def available(self) -> dict[str, int]:
        """The embedded models (fetched into the cache on their first load)."""
        return {name: model.size for name, model in EMBEDDED_MODELS.items()}

    async def facts(self, model: str) -> ModelFacts:
        """Size of the model's weights (the GGUF file), for the estimate before a first load."""
        spec = find(model)
        return ModelFacts(name=spec.name, weights_bytes=spec.size)

    def chat_model(
        self, model: str, options: Mapping[str, Any], keep_alive: float | str
    ) -> BaseChatModel:
        """ChatLlamaCpp bound to the loaded model (no second load)."""
        from orquestra.backends.llamacpp_chat import SchemaChatLlamaCpp as ChatLlamaCpp

        entry = self._open_models.get(find(model).name)
        if entry is None or not entry.resident:
            raise ModelNotFoundError(f"{model} is not loaded; the manager loads it before use.")
        chat = ChatLlamaCpp.model_construct(
            client=entry.llama,
            model_path=str(entry.path),
            n_ctx=int(options.get("num_ctx", 4096)),
            max_tokens=MAX_TOKENS,
            temperature=0.2,
            verbose=False,
        )
        return chat.on_thread(entry.thread)

    async def aclose(self) -> None:
        """Close every model, resident or suspended."""
        for key in list(self._open_models):
            await self._close_model(key)
