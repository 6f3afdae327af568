"""One thread per in-process llama.cpp model: everything that touches the model runs there.

llama.cpp's model and context are not thread-safe, and tearing them down while a decode
(or a sampler still held by a half-consumed generator) uses them is a use-after-free: the
`Segmentation fault` a Ctrl-C used to give. So each open model gets one `ModelThread`,
which opens it, runs every generation on it (a streamed reply is produced whole on that
thread and handed over chunk by chunk, never left half-consumed in another thread),
suspends it and finally closes it, in the order the jobs were queued. Closing is the
thread's last job: it runs after the generation in progress has returned, and the thread
ends with it.

Stopping a generation raises the model's abort flag (`stopping.AbortFlag`): llama.cpp
checks it between the steps of every decode, the sampler at every token, so a stopped job
returns within a step. A caller that stops waiting (a cancelled task, a client that hung
up, a consumer that closed its stream) stops its own job that way; `stop_generation()`
(Ctrl-C) raises every model's flag.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

from orquestra.backends.stopping import AbortFlag, stopping
from orquestra.errors import GenerationStoppedError

T = TypeVar("T")

# Seconds `close_all` (at interpreter exit) waits for each thread's last job.
EXIT_JOIN_S = 30.0
STOPPED_BEFORE_START = "Generation stopped before it started: its caller went away."

_END = object()  # the last item of a streamed job


class Job:
    """One call queued on a model's thread; `stop()` makes it return at its next step."""

    def __init__(self, owner: ModelThread, call: Callable[[], Any]) -> None:
        self.owner = owner
        self.call = call
        self.future: Future[Any] = Future()
        self.stopped = threading.Event()

    def stop(self) -> None:
        """Stop this job: skipped if it has not started, ended at its next step if it runs."""
        if self.future.done():
            return
        self.stopped.set()
        self.owner._raise_if_current(self)


class ModelThread:
    """The thread that owns one llama.cpp model; `flag` is that model's abort flag."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.flag = AbortFlag()
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._current: Job | None = None
        self._guard = threading.Lock()
        self._last: Callable[[], None] | None = None
        """The thread's last job: close the model (set once it is open)."""
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name=f"llama {name}", daemon=True)
        self._thread.start()
        _LIVE.add(self)

    # --- the thread -------------------------------------------------------------------

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            with self._guard:
                if not job.future.set_running_or_notify_cancel():  # its caller went away
                    _count_stopped()
                    continue
                if job.stopped.is_set():
                    _count_stopped()
                    job.future.set_exception(GenerationStoppedError(STOPPED_BEFORE_START))
                    continue
                if not stopping():  # Ctrl-C keeps every flag raised until it is undone
                    self.flag.lower()
                self._current = job
            outcome: tuple[bool, Any]
            try:
                outcome = (True, job.call())
            except BaseException as exc:  # handed to the caller, whatever it is
                outcome = (False, exc)
            with self._guard:
                self._current = None
            if job.stopped.is_set():
                _count_stopped()
            if outcome[0]:
                job.future.set_result(outcome[1])
            else:
                job.future.set_exception(outcome[1])
        try:
            if self._last is not None:
                self._last()
        finally:
            self.flag.forget()
            _LIVE.discard(self)

    def _raise_if_current(self, job: Job) -> None:
        with self._guard:
            if self._current is job:
                self.flag.raise_()

    def on_this_thread(self) -> bool:
        """Whether the caller is this model's thread (a call made from inside a job)."""
        return threading.current_thread() is self._thread

    # --- callers ----------------------------------------------------------------------

    def submit(self, call: Callable[[], T]) -> Job:
        """Queue `call`; its result (or error) arrives in the job's future."""
        job = Job(self, call)
        with self._guard:
            if self._closed:
                raise GenerationStoppedError(f"{self.name} was closed: load it again.")
            self._jobs.put(job)
        return job

    def call(self, call: Callable[[], T]) -> T:
        """Run `call` on this thread and wait for it (at once when already on it)."""
        if self.on_this_thread():
            return call()
        job = self.submit(call)
        try:
            result: T = job.future.result()
        except BaseException:
            job.stop()
            raise
        return result

    async def run(self, call: Callable[[], T]) -> T:
        """Run `call` on this thread; cancelling the caller stops the job at its next step."""
        job = self.submit(call)
        try:
            result: T = await asyncio.wrap_future(job.future)
        except asyncio.CancelledError:
            job.stop()
            raise
        return result

    def stream(self, produce: Callable[[], Iterator[T]]) -> Iterator[T]:
        """`produce()`'s items, produced on this thread; closing the iterator stops it."""
        if self.on_this_thread():
            yield from produce()
            return
        items: queue.SimpleQueue[Any] = queue.SimpleQueue()
        job = self.submit(lambda: _drain(produce, items.put))
        job.future.add_done_callback(lambda _: items.put(_END))
        try:
            while (item := items.get()) is not _END:
                yield item
            job.future.result()  # the producer's error, if it failed
        finally:
            job.stop()

    async def astream(self, produce: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
        """`produce()`'s items, produced on this thread; cancelling or closing stops it."""
        loop = asyncio.get_running_loop()
        items: asyncio.Queue[Any] = asyncio.Queue()

        def hand_over(item: Any) -> None:
            loop.call_soon_threadsafe(items.put_nowait, item)

        job = self.submit(lambda: _drain(produce, hand_over))
        job.future.add_done_callback(lambda _: _quietly(hand_over, _END))
        try:
            while (item := await items.get()) is not _END:
                yield item
            job.future.result()
        finally:
            job.stop()

    def close_with(self, last: Callable[[], None]) -> None:
        """Make `last` (closing the model) this thread's last job, whenever it ends."""
        self._last = last

    def finish(self, timeout_s: float | None = None) -> None:
        """End the thread after every queued job and its last one; wait for it to end."""
        with self._guard:
            if not self._closed:
                self._closed = True
                self._jobs.put(None)
        if not self.on_this_thread():
            self._thread.join(timeout_s)


def _drain(produce: Callable[[], Iterator[Any]], hand_over: Callable[[Any], None]) -> None:
    """Run `produce()` to its end on this thread, handing over each item; close it here."""
    items = produce()
    try:
        for item in items:
            hand_over(item)
    finally:
        close = getattr(items, "close", None)
        if callable(close):
            close()  # a generator left half-consumed is torn down here, not in another thread


def _quietly(hand_over: Callable[[Any], None], item: Any) -> None:
    with contextlib.suppress(RuntimeError):  # the event loop is closed: nobody waits
        hand_over(item)


_LIVE: set[ModelThread] = set()
_STOPPED = [0]
_STOPPED_LOCK = threading.Lock()


def _count_stopped() -> None:
    with _STOPPED_LOCK:
        _STOPPED[0] += 1


def stopped_total() -> int:
    """Jobs this process stopped before their end because their caller went away."""
    return _STOPPED[0]


def close_all(timeout_s: float = EXIT_JOIN_S) -> None:
    """Stop and close every model still open, each on its own thread.

    Registered with `atexit`, so it runs before the interpreter tears modules down: no
    llama.cpp object is left to be freed during that teardown.
    """
    owners = list(_LIVE)
    for owner in owners:
        owner.flag.raise_()
    for owner in owners:
        owner.finish(timeout_s)


atexit.register(close_all)
