"""`orquestra models`: listing models and setting them up through Ollama's pull and create APIs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ollama
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)

from orquestra.backends.base import loaded_by_name
from orquestra.backends.embedded import llama_available
from orquestra.backends.ollama import OllamaBackend
from orquestra.embedded import assets
from orquestra.errors import BackendUnavailableError
from orquestra.lineup import Lineup, Upstream, redact
from orquestra.policy.decision import gib
from orquestra.settings import ROLES, load_settings


async def list_models() -> list[tuple[str, str, str, str, str]]:
    """(backend, model, size, role, state) rows."""
    settings = load_settings()
    backend = OllamaBackend(settings.ollama_base_url)
    lineup = Lineup.of(settings, Upstream.of(settings, "ollama")).resolved(backend.canonical)
    roles = {lineup.model(r): r for r in ROLES}
    rows: list[tuple[str, str, str, str, str]] = []
    try:
        pulled = await backend.pulled()
        loaded = set(await loaded_by_name(backend))
        for name, size in pulled.items():
            rows.append(
                (
                    "ollama",
                    name,
                    f"{gib(size)} GiB",
                    roles.get(name, ""),
                    "loaded" if name in loaded else "pulled",
                )
            )
        for name, role in roles.items():
            if all(r[1] != name for r in rows):
                rows.append(("ollama", name, "", role, "not pulled: orquestra models setup"))
    except BackendUnavailableError:
        rows.append(("ollama", "-", "", "", f"unreachable at {redact(settings.ollama_base_url)}"))
    finally:
        await backend.aclose()
    for spec, role in ((assets.BRAIN_MODEL, "brain"), (assets.EXECUTOR_MODEL, "executor")):
        if assets.fetched(spec, settings.cache_dir):
            state = f"fetched ({assets.model_path(spec, settings.cache_dir)})"
        elif assets.installed(spec):
            state = "in the environment as packages (fetched into the cache on first use)"
        else:
            state = f"not fetched: {assets.FETCH_HINT}"
        if not llama_available():
            state = f"llama-cpp-python missing: {assets.INSTALL_HINT}"
        rows.append(("embedded", spec.name, f"{gib(spec.size)} GiB", role, state))
    return rows


async def _stream(progress: Progress, label: str, parts: Any) -> None:
    tasks: dict[str, Any] = {}
    async for part in parts:
        digest = part.get("digest") or part.get("status") or label
        total, completed = part.get("total"), part.get("completed")
        if total:
            if digest not in tasks:
                tasks[digest] = progress.add_task(f"{label}: {part.get('status')}", total=total)
            progress.update(tasks[digest], completed=completed or 0)
        else:
            progress.console.print(f"{label}: {part.get('status')}")


async def setup_models(brain_base: str, console: Console) -> None:
    """Pull the executor, pull the brain's base and create the brain variant with pinned options.

    Raises:
        BackendUnavailableError: Ollama does not answer.
    """
    settings = load_settings()
    client = ollama.AsyncClient(host=settings.ollama_base_url)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    try:
        with Progress(*columns, console=console) as progress:
            await _stream(
                progress,
                settings.executor_model,
                await client.pull(settings.executor_model, stream=True),
            )
            await _stream(progress, brain_base, await client.pull(brain_base, stream=True))
            await _stream(
                progress,
                settings.brain_model,
                await client.create(
                    model=settings.brain_model,
                    from_=brain_base,
                    stream=True,
                    parameters={"num_ctx": settings.brain_num_ctx},
                ),
            )
    except (ConnectionError, ollama.ResponseError) as exc:
        raise BackendUnavailableError(
            f"Model setup through Ollama at {redact(settings.ollama_base_url)} failed: {exc}. "
            "Start it with `ollama serve`, or set OLLAMA_BASE_URL."
        ) from None
    console.print(
        f"[green]Ready:[/] brain {settings.brain_model}, executor {settings.executor_model}"
    )


def fetch_embedded(cache_dir: Path, console: Console) -> list[Path]:
    """Fetch every embedded model into `cache_dir` with a progress bar (blocking)."""
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    paths = []
    with Progress(*columns, console=console, transient=False) as progress:
        for spec in assets.EMBEDDED_MODELS.values():
            if assets.fetched(spec, cache_dir):
                paths.append(assets.model_path(spec, cache_dir))
                continue
            task = progress.add_task(f"{spec.name}: fetching and verifying", total=spec.size)

            def advance(done: int, total: int, task: TaskID = task) -> None:
                progress.update(task, completed=done, total=total)

            paths.append(assets.assemble(spec, cache_dir, advance))
    return paths
