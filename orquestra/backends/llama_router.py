"""The HTTP API of a router-mode llama-server: its models, their status, loads, unloads, slots.

A router (`llama-server --models-dir DIR` or `--models-preset FILE`, no `-m`) runs one
child `llama-server` per loaded model. `GET /models` lists every model it can serve with
its status (`unloaded`, `loading`, `loaded`, `sleeping`) and the arguments its child runs
with; `POST /models/load` and `/models/unload` start and stop a child asynchronously;
requests naming a model (`/slots` too) are proxied to that model's child.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from orquestra.errors import (
    BackendError,
    BackendUnavailableError,
    ModelNotFoundError,
    OutOfMemoryError,
)
from orquestra.polling import poll_interval

# Requests other than loads (listing, unload, slot actions on small files) answer quickly.
QUICK_REQUEST_TIMEOUT_S = 60.0
# A fresh connection per request: the router now and then closes a kept-alive connection
# as the next request goes out on it ("Server disconnected without sending a response"),
# and a loopback connect costs far less than any model operation.
NO_KEEPALIVE = httpx.Limits(max_keepalive_connections=0)
# Statuses in which a child process holds (or is taking) the model's memory.
RUNNING = frozenset({"loading", "loaded", "sleeping"})
# How the router is started so Orquestra can drive it.
ROUTER_HINT = (
    "llama-server --models-dir DIR --models-max 2 --no-models-autoload --slot-save-path KVDIR"
)
# Child arguments that differ between two runs of the same model with the same settings.
VOLATILE_ARGS = frozenset({"--port", "--host", "--log-colors", "--alias"})


@dataclass(frozen=True)
class RouterModel:
    """One entry of the router's `GET /models`."""

    id: str
    aliases: tuple[str, ...]
    status: str
    args: tuple[str, ...]
    """The command line of the model's child process (binary first)."""
    failed: bool = False

    @property
    def running(self) -> bool:
        """Whether a child process holds (or is loading) the model."""
        return self.status in RUNNING

    def arg(self, *flags: str) -> str | None:
        """The value after the first of `flags` on the child's command line, if any."""
        args = list(self.args)
        for i, token in enumerate(args[:-1]):
            if token in flags:
                return args[i + 1]
        return None

    @property
    def model_path(self) -> Path | None:
        """The GGUF file the child loads."""
        value = self.arg("-m", "--model")
        return Path(value) if value else None

    @property
    def port(self) -> int | None:
        """The loopback port of the child process."""
        value = self.arg("--port")
        return int(value) if value and value.isdigit() else None

    @property
    def slot_dir(self) -> Path | None:
        """Where the child saves slots (`--slot-save-path`), when the router was given one."""
        value = self.arg("--slot-save-path")
        return Path(value) if value else None

    def settings_args(self) -> tuple[str, ...]:
        """The child's arguments that shape its KV cache (ports and colours left out)."""
        kept: list[str] = []
        skip = False
        for token in self.args[1:]:
            if skip:
                skip = False
            elif token in VOLATILE_ARGS:
                skip = True
            else:
                kept.append(token)
        return tuple(kept)


def parse_models(payload: Any) -> list[RouterModel]:
    """The `data` of `GET /models` as RouterModel entries (unknown fields ignored)."""
    entries = payload.get("data", []) if isinstance(payload, dict) else []
    models = []
    for entry in entries:
        status = entry.get("status") or {}
        models.append(
            RouterModel(
                id=str(entry["id"]),
                aliases=tuple(str(a) for a in entry.get("aliases") or ()),
                status=str(status.get("value", "unknown")),
                args=tuple(str(a) for a in status.get("args") or ()),
                failed=bool(status.get("failed", False)),
            )
        )
    return models


def find_model(models: Iterable[RouterModel], name: str) -> RouterModel | None:
    """The model listed as `name` or with `name` among its aliases."""
    for model in models:
        if name == model.id or name in model.aliases:
            return model
    return None


class LlamaRouter:
    """Calls to one router-mode llama-server."""

    def __init__(self, base_url: str, *, api_key: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _http(self) -> httpx.AsyncClient:
        # A connection pool belongs to one event loop (notebooks run several in turn).
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=QUICK_REQUEST_TIMEOUT_S,
                headers=self._headers,
                limits=NO_KEEPALIVE,
            )
            self._loop = loop
        return self._client

    def unreachable(self) -> BackendUnavailableError:
        """The error for a router that does not answer, naming how to start one."""
        return BackendUnavailableError(
            f"Cannot reach llama-server at {self.base_url}. Start it in router mode "
            f"(`{ROUTER_HINT}`) or set LLAMA_SERVER_URL to where it listens."
        )

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; its JSON answer, or an Orquestra error naming the fix."""
        try:
            response = await self._http().request(method, path, **kwargs)
        except httpx.TransportError:
            raise self.unreachable() from None
        try:
            body = response.json()
        except ValueError:
            body = {"error": {"message": response.text}}
        if response.status_code >= 400:
            error = body.get("error", body) if isinstance(body, dict) else body
            message = error.get("message", error) if isinstance(error, dict) else error
            if response.status_code == 404 and path == "/models":
                raise BackendError(
                    f"llama-server at {self.base_url} has no /models: it is not in router "
                    f"mode (it was started with -m). Start it as `{ROUTER_HINT}`."
                )
            raise BackendError(
                f"llama-server answered {response.status_code} to {method} {path}: {message}"
            )
        return body

    async def models(self) -> list[RouterModel]:
        """Every model the router can serve, with its status."""
        return parse_models(await self.request("GET", "/models"))

    async def model(self, name: str) -> RouterModel:
        """The router's entry for `name` (an id or an alias).

        Raises:
            ModelNotFoundError: The router does not serve `name`; the message lists what it does.
        """
        models = await self.models()
        found = find_model(models, name)
        if found is None:
            listed = ", ".join(m.id for m in models) or "none"
            raise ModelNotFoundError(
                f"Model '{name}' is not served by llama-server at {self.base_url} (it serves: "
                f"{listed}). Set DEFAULT_MODEL / EXECUTOR_MODEL to one of them, or add its GGUF "
                f"to the router's --models-dir."
            )
        return found

    async def load(self, model_id: str) -> None:
        """Ask the router to start the model's child (it loads asynchronously)."""
        await self.request("POST", "/models/load", json={"model": model_id})

    async def unload(self, model_id: str) -> None:
        """Ask the router to stop the model's child (it exits asynchronously)."""
        await self.request("POST", "/models/unload", json={"model": model_id})

    async def wait_status(self, name: str, wanted: frozenset[str], timeout_s: float) -> RouterModel:
        """Poll `/models` until `name`'s status is in `wanted`; return its entry.

        Raises:
            OutOfMemoryError: The model's child failed (it left `loading` for `unloaded`).
            TimeoutError: `timeout_s` passed first.
        """
        start = time.perf_counter()
        seen_running = False
        while True:
            model = await self.model(name)
            if model.status in wanted:
                return model
            seen_running = seen_running or model.running
            if "loaded" in wanted and model.status == "unloaded" and (model.failed or seen_running):
                # Treated as out of memory (the usual cause), so the scheduler evicts what
                # is idle and retries once; a bad GGUF fails again with this message.
                raise OutOfMemoryError(
                    f"llama-server could not load {name}: its process exited (too little "
                    f"memory, or a bad GGUF; the router's log says which)."
                )
            waited = time.perf_counter() - start
            if waited >= timeout_s:
                raise TimeoutError(f"{name} still {model.status} after {timeout_s:.0f}s")
            await asyncio.sleep(max(poll_interval(waited), 0.02))

    async def slots(self, model_id: str) -> list[dict[str, Any]]:
        """The model's slots (`GET /slots`), without loading it."""
        params = {"model": model_id, "autoload": "false"}
        answer = await self.request("GET", "/slots", params=params)
        return [s for s in answer if isinstance(s, dict)] if isinstance(answer, list) else []

    async def slot_action(
        self, model_id: str, slot: int, action: str, filename: str | None = None
    ) -> dict[str, Any]:
        """Save, restore or erase one slot of the model's child."""
        body: dict[str, Any] = {"model": model_id}
        if filename is not None:
            body["filename"] = filename
        params = {"action": action, "autoload": "false"}
        answer = await self.request("POST", f"/slots/{slot}", params=params, json=body)
        return answer if isinstance(answer, dict) else {}

    async def aclose(self) -> None:
        """Close the connections."""
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.aclose()
