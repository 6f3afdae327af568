"""The `orquestra` command: run a request, show status, diagnose, manage models.

    orquestra run "Crie um script Python que soma os números de 1 a 10"
    orquestra run - < request.txt          (or: orquestra run --file request.txt)
    orquestra run --json "Planeje e execute ..."
    orquestra run --thread ID --resume      (finish a run kept in ORQUESTRA_DB_URL)
    orquestra status
    orquestra doctor
    orquestra models list | orquestra models setup | orquestra models fetch

Every failure a user can meet ends with one line naming the fix (`--debug` adds the
traceback); Ctrl-C or SIGTERM ends a run cleanly at any moment (see
`orquestra.app.interrupts`). This is the application shell, the top of the import order
(runtime <- tools <- nodes <- graph <- app).
"""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import suppress
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orquestra.app.cli_support import EXIT_BAD_INPUT, Shell, fail, guarded, read_request, run_async
from orquestra.app.run_cmd import run_context, run_request
from orquestra.app.run_view import state_json
from orquestra.app.threads import check_thread_id, new_thread_id, resume_command
from orquestra.checkpoints import checkpoint_store
from orquestra.client.remote import fetch_status, scheduler_answers
from orquestra.client.trust import Trust
from orquestra.runtime import build_model_manager
from orquestra.settings import load_settings

app = typer.Typer(
    name="orquestra",
    help="A brain and a coder executor sharing one GPU (Ollama, or embedded models on the CPU).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(
    help="List the models, or set them up through Ollama.", no_args_is_help=True
)
app.add_typer(models_app, name="models")
console = Console()


@app.callback()
def options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback behind an error.")
    ] = False,
) -> None:
    """A brain and a coder executor sharing one GPU (Ollama, or embedded models on the CPU)."""
    Shell.debug = debug


@app.command()
def run(
    message: Annotated[
        str | None,
        typer.Argument(
            help="What you need, in Portuguese or English; `-` reads it from standard input."
        ),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the request from this file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the final state as JSON.")] = False,
    brain_model: Annotated[str | None, typer.Option(help="Brain model (DEFAULT_MODEL).")] = None,
    executor_model: Annotated[
        str | None, typer.Option(help="Executor model (EXECUTOR_MODEL).")
    ] = None,
    backend: Annotated[
        str | None, typer.Option(help="ollama, embedded, llama-server or auto.")
    ] = None,
    thread: Annotated[
        str | None,
        typer.Option(
            "--thread", help="The conversation to run in (default: a new one, printed first)."
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", help="Finish the thread's interrupted run (ORQUESTRA_DB_URL keeps it)."
        ),
    ] = False,
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            help="Your project (ORQUESTRA_WORKSPACE): fixes and refactors of its files run "
            "on a private copy with its own tests.",
        ),
    ] = None,
    apply: Annotated[
        bool,
        typer.Option("--apply", help="Write an accepted fix or refactor to the workspace."),
    ] = False,
) -> None:
    """Run one request through the workflow: route, swaps, code runs, answer."""
    if resume and thread is None:
        fail("--resume needs the run's thread: orquestra run --thread ID --resume", EXIT_BAD_INPUT)
    if resume and (message is not None or file is not None):
        fail("Give a request or --resume, not both: --resume finishes a run.", EXIT_BAD_INPUT)
    text = None if resume else read_request(message, file)
    overrides = {
        k: v
        for k, v in {
            "brain_model": brain_model,
            "executor_model": executor_model,
            "backend": backend,
        }.items()
        if v
    }
    settings = guarded(lambda: load_settings(**overrides))
    store = guarded(lambda: checkpoint_store(settings.db_url.get_secret_value()))
    thread_id = guarded(lambda: check_thread_id(thread)) if thread else new_thread_id()
    if workspace is not None and not workspace.is_dir():
        fail(f"--workspace {workspace}: no such directory.", EXIT_BAD_INPUT)
    context = guarded(lambda: run_context(workspace, apply))
    final = run_async(
        lambda: run_request(
            text,
            thread=thread_id,
            store=store,
            settings=settings,
            console=console,
            as_json=as_json,
            context=context,
        ),
        resume_with=resume_command(thread_id) if store.persistent else None,
    )
    if as_json:
        print(state_json(final, thread_id))
    if final.get("error"):
        raise typer.Exit(code=1)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
    watch: Annotated[
        bool, typer.Option("--watch", help="Live view of orquestra serve (Ctrl-C stops).")
    ] = False,
) -> None:
    """The model manager's status: what is resident, VRAM, budget, policy, swaps."""
    if watch:
        from orquestra.app.status_view import watch as watch_live

        settings = guarded(load_settings)
        url = settings.scheduler_url
        trust = guarded(lambda: Trust.of(url, settings))
        if not guarded(lambda: scheduler_answers(trust, 1.0)):
            console.print(f"No orquestra serve answers at {url}: start it with `orquestra serve`.")
            raise typer.Exit(code=1)
        with suppress(KeyboardInterrupt):
            watch_live(trust, console)
        return

    async def read() -> dict[str, Any]:
        settings = await asyncio.to_thread(load_settings)
        if not settings.in_process:
            trust = await asyncio.to_thread(Trust.of, settings.scheduler_url, settings)
            if await asyncio.to_thread(scheduler_answers, trust, 1.0):
                return await asyncio.to_thread(fetch_status, trust)  # the one shared state
        manager = await asyncio.to_thread(build_model_manager, settings)
        try:
            await manager.refresh()
            return manager.get_status()
        finally:
            await manager.aclose()

    info = run_async(read)
    if as_json:
        print(json.dumps(info, indent=2, default=str))
        return
    table = Table(title="orquestra status", show_header=False)
    for key, value in info.items():
        if key != "last_swap":
            table.add_row(key, escape(str(value)))
    console.print(table)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    no_auth: Annotated[
        bool,
        typer.Option(
            "--no-auth",
            help="Beyond loopback, serve anyone who reaches the port (no ORQUESTRA_API_KEY).",
        ),
    ] = False,
    gpu: Annotated[
        int | None,
        typer.Option("--gpu", help="NVML index of this scheduler's GPU (ORQUESTRA_GPU_INDEX)."),
    ] = None,
    node: Annotated[
        list[str] | None,
        typer.Option(
            "--node",
            help="Run as a front placing requests on these schedulers (repeat; ORQUESTRA_NODES).",
        ),
    ] = None,
) -> None:
    """Schedule every client's requests for this GPU (Ollama's API, one lease each)."""
    from orquestra.server.app import serve as run_serve

    overrides = {"gpu_index": gpu} if gpu is not None else {}
    settings = guarded(lambda: load_settings(**overrides))
    guarded(
        lambda: run_serve(settings, host=host, port=port, open_access=no_auth, nodes=node or [])
    )


@app.command()
def doctor() -> None:
    """Check Ollama, the models, the GPU, the fit and the sandbox; print each fix."""
    from orquestra.app.doctor import run_checks
    from orquestra.settings import load_settings

    settings = guarded(load_settings)
    checks = run_async(lambda: run_checks(settings))
    table = Table(title="orquestra doctor")
    for column in ("check", "", "found", "fix"):
        table.add_column(column)
    marks = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "fail": "[red]✗[/]"}
    for check in checks:
        table.add_row(check.name, marks[check.status], escape(check.detail), escape(check.fix))
    console.print(table)
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(code=1)


@models_app.command("list")
def models_list() -> None:
    """Models Ollama has pulled (brain and executor marked) and the embedded models."""
    from orquestra.app.models_cmd import list_models

    rows = run_async(list_models)
    table = Table(title="models")
    for column in ("backend", "model", "size", "role", "state"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)


@models_app.command("fetch")
def models_fetch() -> None:
    """Fetch the embedded models into the cache once (1.5 GiB), with a progress bar."""
    from orquestra.app.models_cmd import fetch_embedded
    from orquestra.settings import load_settings

    settings = guarded(load_settings)
    for path in guarded(lambda: fetch_embedded(settings.cache_dir, console)):
        console.print(f"[green]ready:[/] {escape(str(path))}")


@models_app.command("setup")
def models_setup(
    brain_base: Annotated[
        str, typer.Option(help="Ollama tag the brain variant is created from.")
    ] = "qwen2.5:32b-instruct-q3_K_M",
) -> None:
    """Pull the executor and create the brain variant through Ollama, with progress bars."""
    from orquestra.app.models_cmd import setup_models

    run_async(lambda: setup_models(brain_base, console))


def main() -> None:
    """The console script: the app, with Ctrl-C before a run starts ending quietly too."""
    try:
        app()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
