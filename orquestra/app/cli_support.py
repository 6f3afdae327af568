"""What every `orquestra` subcommand shares: one clear line per failure, and reading a request.

A failure a user can meet (a server that does not answer or answers with an error, a bad
setting, a request too long or empty, an interrupt) ends the command with one line that
names the fix, exit code 1 (2 for bad input, 128 + the signal for an interrupt); `--debug`
shows the traceback as well.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import httpx
import ollama
import typer
from rich.console import Console
from rich.markup import escape

from orquestra.app.interrupts import Interrupted, run_until_interrupted
from orquestra.errors import OrquestraError
from orquestra.lineup import redact
from orquestra.settings import load_settings

T = TypeVar("T")
errors = Console(stderr=True)

# Exit codes: a failure the fix names, and input that cannot be used.
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
# Largest request read from a file or standard input (a model's context is far smaller;
# this only keeps a stray binary file from being read whole into memory).
MAX_REQUEST_BYTES = 64 * 1024 * 1024
EMPTY_REQUEST = (
    'The request is empty: say what you need, e.g. orquestra run "Crie um script que soma '
    'os números de 1 a 10", or pipe it in with: orquestra run - < request.txt'
)


class Shell:
    """Options every subcommand shares (set by the app's callback)."""

    debug = False


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print `message` as one error line and exit with `code`."""
    if Shell.debug and sys.exc_info()[0] is not None:
        errors.print(traceback.format_exc(), markup=False, highlight=False)
    errors.print(f"[bold red]Error:[/] {escape(message)}")
    raise typer.Exit(code=code)


def server_message(exc: Exception) -> str:
    """One line for a server failure: what happened and the fix."""
    url = _ollama_url()
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | ConnectionError):
        return (
            f"Cannot reach Ollama at {url}: start it (ollama serve, or the Ollama app) or set "
            f"OLLAMA_BASE_URL."
        )
    if isinstance(exc, httpx.TimeoutException):
        return f"Ollama at {url} did not answer in time: check that it is not overloaded."
    if isinstance(exc, ollama.ResponseError):
        return f"Ollama at {url} answered {exc.status_code}: {exc.error}"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"Ollama at {url} answered {exc.response.status_code}: {exc.response.text[:200]}"
    return f"Talking to Ollama at {url} failed: {exc}"


def _ollama_url() -> str:
    try:
        return redact(load_settings().ollama_base_url)
    except OrquestraError:
        return "OLLAMA_BASE_URL"


def guarded(action: Callable[[], T], *, resume_with: str | None = None) -> T:
    """Run a command's body; expected failures become one line and an exit code.

    `resume_with` is the command that continues the work if a signal interrupts it
    (a run kept in a database), printed on the `interrupted` line.
    """
    try:
        return action()
    except Interrupted as exc:
        resume = f"; resume it with: {resume_with}" if resume_with else ""
        line = f"interrupted ({exc}); nothing is left running{resume}"
        errors.print(line, markup=False, highlight=False, soft_wrap=True)  # copyable as is
        raise typer.Exit(code=exc.exit_code) from None
    except KeyboardInterrupt:
        errors.print("interrupted")
        raise typer.Exit(code=130) from None
    except OrquestraError as exc:
        fail(str(exc), EXIT_BAD_INPUT if isinstance(exc, ValueError) else EXIT_FAILURE)
    except (httpx.HTTPError, ollama.ResponseError, ConnectionError) as exc:
        fail(server_message(exc))


def run_async(action: Callable[[], Coroutine[Any, Any, T]], *, resume_with: str | None = None) -> T:
    """`guarded`, for a coroutine factory run until done or interrupted."""
    return guarded(lambda: run_until_interrupted(action()), resume_with=resume_with)


def read_request(message: str | None, file: Path | None) -> str:
    """The request from the argument, `-` (standard input) or `--file`; never empty."""
    if message is not None and file is not None:
        fail("Give the request as an argument or with --file, not both.", EXIT_BAD_INPUT)
    if file is not None:
        try:
            with file.open("rb") as handle:
                data = handle.read(MAX_REQUEST_BYTES + 1)
        except OSError as exc:
            fail(f"Cannot read the request from {file}: {exc.strerror or exc}.", EXIT_BAD_INPUT)
        text = _decode(data, str(file))
    elif message == "-":
        text = _decode(sys.stdin.buffer.read(MAX_REQUEST_BYTES + 1), "standard input")
    else:
        text = message or ""
    if not text.strip():
        fail(EMPTY_REQUEST, EXIT_BAD_INPUT)
    return text


def _decode(data: bytes, where: str) -> str:
    if len(data) > MAX_REQUEST_BYTES:
        fail(f"The request in {where} is over {MAX_REQUEST_BYTES // 2**20} MiB.", EXIT_BAD_INPUT)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        fail(f"The request in {where} is not UTF-8 text.", EXIT_BAD_INPUT)
