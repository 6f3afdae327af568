"""The `orquestra` command: run a request, show status, diagnose, manage models.

    orquestra run "Crie um script Python que soma os números de 1 a 10"
    orquestra run --json "Planeje e execute ..."
    orquestra status
    orquestra doctor
    orquestra models list | orquestra models setup

The workflow (`graph/`) sits above this package in the import order, so it is loaded
when a command needs it, not when `orquestra` is imported.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from contextlib import nullcontext
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orquestra.errors import OrquestraError
from orquestra.run_view import RunView, state_json
from orquestra.runtime import build_model_manager, set_model_manager

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
errors = Console(stderr=True)


def _fail(exc: Exception) -> typer.Exit:
    errors.print(f"[bold red]Error:[/] {escape(str(exc))}")
    return typer.Exit(code=1)


async def _run(message: str, as_json: bool, overrides: dict[str, Any]) -> dict[str, Any]:
    from langchain_core.messages import AIMessageChunk, HumanMessage

    manager = await asyncio.to_thread(build_model_manager, **overrides)
    set_model_manager(manager)
    workflow = importlib.import_module("graph.workflow")
    context = importlib.import_module("nodes.context").Context()
    graph = workflow.build_graph()
    final: dict[str, Any] = {}
    view = RunView(console)
    try:
        with view if not as_json else nullcontext(view):
            async for mode, chunk in graph.astream(
                {"messages": [HumanMessage(message)]},
                context=context,
                stream_mode=["custom", "messages", "values"],
            ):
                if mode == "values":
                    final = chunk
                elif as_json:
                    continue
                elif mode == "messages":
                    token, meta = chunk
                    if isinstance(token, AIMessageChunk) and isinstance(token.content, str):
                        view.token(str(meta.get("langgraph_node", "")), token.content)
                else:
                    view.event(chunk)
            if not as_json and final.get("messages"):
                view.answer(str(final["messages"][-1].content))
    finally:
        await manager.aclose()
    return final


@app.command()
def run(
    message: Annotated[str, typer.Argument(help="What you need, in Portuguese or English.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the final state as JSON.")] = False,
    brain_model: Annotated[str | None, typer.Option(help="Brain model (DEFAULT_MODEL).")] = None,
    executor_model: Annotated[
        str | None, typer.Option(help="Executor model (EXECUTOR_MODEL).")
    ] = None,
    backend: Annotated[str | None, typer.Option(help="ollama, embedded or auto.")] = None,
) -> None:
    """Run one request through the workflow: route, swaps, code runs, answer."""
    overrides = {
        k: v
        for k, v in {
            "brain_model": brain_model,
            "executor_model": executor_model,
            "backend": backend,
        }.items()
        if v
    }
    try:
        final = asyncio.run(_run(message, as_json, overrides))
    except OrquestraError as exc:
        raise _fail(exc) from None
    if as_json:
        print(state_json(final))


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """The model manager's status: what is resident, VRAM, budget, policy, swaps."""

    async def read() -> dict[str, Any]:
        manager = await asyncio.to_thread(build_model_manager)
        try:
            await manager.refresh()
            return manager.get_status()
        finally:
            await manager.aclose()

    try:
        info = asyncio.run(read())
    except OrquestraError as exc:
        raise _fail(exc) from None
    if as_json:
        print(json.dumps(info, indent=2, default=str))
        return
    table = Table(title="orquestra status", show_header=False)
    for key, value in info.items():
        if key != "last_swap":
            table.add_row(key, str(value))
    console.print(table)


@app.command()
def doctor() -> None:
    """Check Ollama, the models, the GPU, the fit and the sandbox; print each fix."""
    from orquestra.doctor import run_checks
    from orquestra.settings import load_settings

    try:
        settings = load_settings()
    except OrquestraError as exc:
        raise _fail(exc) from None
    checks = asyncio.run(run_checks(settings))
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
    from orquestra.models_cmd import list_models

    try:
        rows = asyncio.run(list_models())
    except OrquestraError as exc:
        raise _fail(exc) from None
    table = Table(title="models")
    for column in ("backend", "model", "size", "role", "state"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)


@models_app.command("setup")
def models_setup(
    brain_base: Annotated[
        str, typer.Option(help="Ollama tag the brain variant is created from.")
    ] = "qwen2.5:32b-instruct-q3_K_M",
) -> None:
    """Pull the executor and create the brain variant through Ollama, with progress bars."""
    from orquestra.models_cmd import setup_models

    try:
        asyncio.run(setup_models(brain_base, console))
    except OrquestraError as exc:
        raise _fail(exc) from None


if __name__ == "__main__":
    app()
