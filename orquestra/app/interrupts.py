"""Ending a command cleanly on Ctrl-C or SIGTERM, at any moment.

`run_until_interrupted(coro)` is `asyncio.run(coro)` where SIGINT and SIGTERM cancel the
run instead of tearing the interpreter down under it: the running task is cancelled, so
every `finally` runs (sandboxed code is killed and reaped, leases are released, models
are closed); an in-process generation stops at its next step, and each model is closed
on its own thread after that step (`orquestra.backends.llama_thread`; the crashes and
hangs a Ctrl-C gave came from llama.cpp objects shared across threads: a streamed reply
resumed on another thread than the one holding the model's lock, a model freed while a
half-consumed generation or the sampler it left behind still pointed into it); the worker
threads are joined before the loop closes. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

from orquestra.backends.stopping import allow_generation, stop_generation

T = TypeVar("T")

# Exit status of a command ended by a signal: 128 + its number (130 Ctrl-C, 143 SIGTERM).
SIGNAL_EXIT_BASE = 128
HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    """The run was ended by a signal; `exit_code` is what the command exits with."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum
        self.exit_code = SIGNAL_EXIT_BASE + signum


def run_until_interrupted(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to completion, or raise `Interrupted` once a signal has stopped it.

    The handlers are Python-level (`signal.signal`), not the event loop's
    (`loop.add_signal_handler`): the loop's way writes the signal's number to a wakeup fd
    that a child forked at that instant shares, and a Ctrl-C that reaches the child before
    it leaves the terminal's process group (a sandbox or any helper process starting) would
    arrive here twice, the second time meaning "exit at once".
    """
    loop = asyncio.new_event_loop()
    main = loop.create_task(coro)
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if received:  # the second one: no more waiting
            os._exit(SIGNAL_EXIT_BASE + signum)
        received.append(signum)
        stop_generation()
        main.cancel()

    def handler(signum: int, frame: object) -> None:
        loop.call_soon_threadsafe(on_signal, signum)

    previous = {signum: signal.getsignal(signum) for signum in HANDLED}
    for signum in HANDLED:
        with contextlib.suppress(ValueError):  # not the main thread: nothing to install
            signal.signal(signum, handler)
    try:
        result = loop.run_until_complete(main)
        if received:  # the run finished on its own while the signal was handled
            raise Interrupted(received[0])
        return result
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise Interrupted(received[0] if received else signal.SIGINT) from None
    finally:
        try:
            _cancel_remaining(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            for signum, before in previous.items():
                with contextlib.suppress(ValueError, TypeError):
                    signal.signal(signum, before)
            loop.close()
            allow_generation()


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
