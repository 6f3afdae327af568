"""The Ollama backend: load, unload, list and describe models over Ollama's REST API.

Loads are empty requests carrying the role's pinned options and keep_alive, so a later
chat with the same options never makes the server reload. Unloads are asynchronous on
the server (ollama-api.md §10), so `wait_unloaded` polls `/api/ps` until the model is
really gone.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx
import ollama
from langchain_core.language_models import BaseChatModel
from langchain_ollama import ChatOllama

from orquestra.backends.base import Capabilities, LoadedModel, ModelFacts, is_local
from orquestra.errors import (
    BackendError,
    BackendUnavailableError,
    ModelNotFoundError,
    OutOfMemoryError,
    ServerBusyError,
    SwapTimeoutError,
)
from orquestra.lineup import redact
from orquestra.polling import poll_interval

log = logging.getLogger(__name__)

T = TypeVar("T")

# Delays before retrying a 503 "server busy" answer; then give up.
BUSY_RETRY_DELAYS_S = (0.25, 0.5, 1.0, 2.0)
# Requests other than loads (ps, tags, show, unload) answer in milliseconds.
QUICK_REQUEST_TIMEOUT_S = 30.0
# Substrings Ollama's own scheduler treats as out-of-memory (ollama-api.md §13).
OOM_MARKERS = (
    "out of memory",
    "cudamalloc failed",
    "failed to allocate",
    "requires more system memory",
    "memory layout cannot be allocated",
    "unable to load full model",
    "insufficient memory",
)


def canonical_name(model: str) -> str:
    """Ollama's name for a tag: `qwen2.5-coder` and `qwen2.5-coder:latest` are one model."""
    last = model.rsplit("/", 1)[-1]
    return model if ":" in last else f"{model}:latest"


def server_version(base_url: str, timeout_s: float) -> str | None:
    """The version of the Ollama server at `base_url`, or None when none answers.

    The one probe of a server: `auto` backend selection and the doctor ask it. Blocking
    (call it off the event loop, e.g. with `asyncio.to_thread`).
    """
    try:
        response = httpx.get(f"{base_url.rstrip('/')}/api/version", timeout=timeout_s)
        response.raise_for_status()
        return str(response.json().get("version", "unknown"))
    except (httpx.HTTPError, ValueError):
        return None


class OllamaBackend:
    """Effects against one Ollama server."""

    name = "ollama"
    # A chat model is only a client of the server: one per role serves every load.
    capabilities = Capabilities(
        reusable_chat_models=True, suspension=False, ollama_api=True, loads_on_request=True
    )

    def __init__(
        self,
        base_url: str,
        *,
        load_timeout_s: float = 300.0,
        client_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.base_url = base_url
        self.shown_url = redact(base_url)
        """The URL as messages show it (its password redacted)."""
        self.url = base_url
        self._client_kwargs = dict(client_kwargs or {})
        self._load_timeout_s = load_timeout_s
        self._clients_loop: asyncio.AbstractEventLoop | None = None
        self._quick: ollama.AsyncClient | None = None
        self._slow: ollama.AsyncClient | None = None

    def _bind(self) -> tuple[ollama.AsyncClient, ollama.AsyncClient]:
        # httpx connection pools belong to one event loop; a notebook or CLI that runs
        # several loops in turn gets fresh clients for each.
        loop = asyncio.get_running_loop()
        if self._quick is None or self._slow is None or self._clients_loop is not loop:
            self._quick = ollama.AsyncClient(
                host=self.base_url, timeout=QUICK_REQUEST_TIMEOUT_S, **self._client_kwargs
            )
            self._slow = ollama.AsyncClient(
                host=self.base_url, timeout=self._load_timeout_s, **self._client_kwargs
            )
            self._clients_loop = loop
        return self._quick, self._slow

    @property
    def _client(self) -> ollama.AsyncClient:
        return self._bind()[0]

    @property
    def _load_client(self) -> ollama.AsyncClient:
        return self._bind()[1]

    # -- error translation -------------------------------------------------------------

    def _unreachable(self) -> BackendUnavailableError:
        return BackendUnavailableError(
            f"Cannot reach Ollama at {self.shown_url}. Start it with `ollama serve` (or open "
            f"the Ollama app), or set OLLAMA_BASE_URL to where it listens."
        )

    def _translate(self, exc: ollama.ResponseError, model: str | None) -> Exception:
        text = exc.error or str(exc)
        lowered = text.lower()
        if exc.status_code == 404 and model:
            return ModelNotFoundError(
                f"Model '{model}' is not available on the Ollama server at {self.shown_url}. "
                f"Run `ollama pull {shlex.quote(model)}` (or set DEFAULT_MODEL / EXECUTOR_MODEL "
                f"to a model listed by `ollama list`)."
            )
        if any(marker in lowered for marker in OOM_MARKERS):
            return OutOfMemoryError(f"Ollama ran out of memory loading {model}: {text}")
        return BackendError(f"Ollama answered {exc.status_code} for {model or 'a request'}: {text}")

    async def _call(self, fn: Callable[[], Awaitable[T]], model: str | None = None) -> T:
        """Run one client call, retrying 503s and turning failures into Orquestra errors."""
        for attempt, delay in enumerate((*BUSY_RETRY_DELAYS_S, None)):
            try:
                return await fn()
            except ollama.ResponseError as exc:
                if exc.status_code == 503 and delay is not None:
                    log.info("Ollama busy (503), retry %d in %.2fs", attempt + 1, delay)
                    await asyncio.sleep(delay)
                    continue
                if exc.status_code == 503:
                    raise ServerBusyError(
                        f"Ollama at {self.shown_url} stayed busy (503: {exc.error}) after "
                        f"{len(BUSY_RETRY_DELAYS_S)} retries. Wait for its queue to drain or "
                        f"raise OLLAMA_MAX_QUEUE on the server."
                    ) from None
                raise self._translate(exc, model) from None
            except (ConnectionError, httpx.TransportError):
                raise self._unreachable() from None
        raise AssertionError("unreachable")  # pragma: no cover

    # -- the backend interface -------------------------------------------------------

    def canonical(self, model: str) -> str:
        """Ollama's name for a tag (`qwen2.5-coder` is `qwen2.5-coder:latest`)."""
        return canonical_name(model)

    def suspended(self) -> list[str]:
        """Ollama has no suspension: an unloaded model is gone."""
        return []

    async def load(self, model: str, options: Mapping[str, Any], keep_alive: float | str) -> float:
        """Load `model` with an empty generate request; return the seconds it took."""
        start = time.perf_counter()
        await self._call(
            lambda: self._load_client.generate(
                model=model, options=dict(options), keep_alive=keep_alive
            ),
            model,
        )
        return time.perf_counter() - start

    async def unload(self, model: str) -> None:
        """Send `keep_alive: 0` with an empty prompt; the server unloads asynchronously."""
        await self._call(lambda: self._client.generate(model=model, keep_alive=0), model)

    async def loaded(self) -> list[LoadedModel]:
        """Return `/api/ps` as LoadedModel entries."""
        response = await self._call(self._client.ps)
        return [
            LoadedModel(
                name=str(m.model or m.name),
                size=int(m.size or 0),
                size_vram=int(m.size_vram or 0),
            )
            for m in response.models
        ]

    async def wait_unloaded(self, model: str, timeout_s: float) -> None:
        """Poll `/api/ps` until `model` is gone; raise SwapTimeoutError after `timeout_s`."""
        wanted = canonical_name(model)
        start = time.perf_counter()
        while True:
            names = {canonical_name(m.name) for m in await self.loaded()}
            if wanted not in names:
                return
            waited = time.perf_counter() - start
            if waited >= timeout_s:
                raise SwapTimeoutError(
                    f"{model} was asked to unload but Ollama still lists it after {timeout_s:.0f}s "
                    f"(a long generation from another client keeps it busy). Wait for it to "
                    f"finish, run `ollama stop {model}`, or raise ORQUESTRA_UNLOAD_TIMEOUT_S."
                )
            await asyncio.sleep(poll_interval(waited))

    def is_local(self) -> bool:
        """Whether the server runs on this machine (so its blob files are readable here)."""
        return is_local(self.base_url)

    async def weights_path(self, model: str) -> Path | None:
        """The blob named by `/api/show`'s modelfile `FROM` line, when the server is local."""
        if not self.is_local():
            return None
        show = await self._call(lambda: self._client.show(model), model)
        for line in (show.modelfile or "").splitlines():
            if line.startswith("FROM "):
                path = Path(line[5:].strip())
                exists = await asyncio.to_thread(path.is_file)
                return path if path.is_absolute() and exists else None
        return None

    async def pulled(self) -> dict[str, int]:
        """Models the server has pulled (`/api/tags`): canonical name → weights bytes."""
        tags = await self._call(self._client.list)
        return {canonical_name(str(m.model)): int(m.size or 0) for m in tags.models}

    async def available(self) -> dict[str, int]:
        """The pulled models."""
        return await self.pulled()

    async def facts(self, model: str) -> ModelFacts:
        """Describe a pulled model from `/api/show` and `/api/tags`."""
        show = await self._call(lambda: self._client.show(model), model)
        weights = (await self.pulled()).get(canonical_name(model), 0)
        return ModelFacts(
            name=model,
            weights_bytes=weights,
            model_info=dict(show.modelinfo or {}),
        )

    def chat_model(
        self, model: str, options: Mapping[str, Any], keep_alive: float | str
    ) -> BaseChatModel:
        """Return a ChatOllama that sends the role's pinned options on every request."""
        return ChatOllama(
            model=model,
            base_url=self.base_url,
            keep_alive=keep_alive if isinstance(keep_alive, str) else int(keep_alive),
            client_kwargs=self._client_kwargs,
            **dict(options),
        )

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        clients, self._quick, self._slow = (self._quick, self._slow), None, None
        if self._clients_loop is not asyncio.get_running_loop():
            return
        for client in clients:
            inner = getattr(client, "_client", None)
            if isinstance(inner, httpx.AsyncClient):
                await inner.aclose()
