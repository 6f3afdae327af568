"""`ModelThread`: every call on a model on its one thread, in order, stoppable, closed last."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from orquestra.backends import llama_thread
from orquestra.backends.llama_thread import ModelThread
from orquestra.backends.stopping import AbortFlag, allow_generation, stop_generation
from orquestra.errors import GenerationStoppedError

# Upper bound on waiting for a thread in these tests (never reached when they pass).
PATIENCE_S = 10.0


def tokens_until_stopped(flag: AbortFlag, seen: list[str], limit: int = 10_000) -> Iterator[int]:
    """A stand-in for a generation: a token per millisecond until its model's flag rises."""
    try:
        for token in range(limit):
            if flag.raised():
                return
            yield token
            time.sleep(0.001)
    finally:
        seen.append(threading.current_thread().name)  # where the generator was torn down


def test_every_call_runs_on_the_models_one_thread_in_the_order_queued() -> None:
    owner = ModelThread("m")
    ran: list[tuple[int, str]] = []
    jobs = [
        owner.submit(lambda i=i: ran.append((i, threading.current_thread().name))) for i in range(5)
    ]
    for job in jobs:
        job.future.result(PATIENCE_S)
    assert [i for i, _ in ran] == [0, 1, 2, 3, 4]
    assert {name for _, name in ran} == {"llama m"}
    nested = owner.call(lambda: owner.call(threading.current_thread))  # inline when on it
    assert nested.name == "llama m"
    owner.finish(PATIENCE_S)


def test_closing_is_the_last_job_after_the_generation_in_progress() -> None:
    owner = ModelThread("m")
    order: list[str] = []
    owner.close_with(lambda: order.append("closed"))
    started = threading.Event()

    def generation() -> None:
        started.set()
        time.sleep(0.2)
        order.append("generation ended")

    owner.submit(generation)
    started.wait(PATIENCE_S)
    owner.finish(PATIENCE_S)
    assert order == ["generation ended", "closed"]
    with pytest.raises(GenerationStoppedError, match="load it again"):
        owner.submit(lambda: None)


def test_a_cancelled_caller_stops_its_generation_at_the_next_step() -> None:
    owner = ModelThread("m")
    seen: list[str] = []
    before = llama_thread.stopped_total()

    def generation() -> int:
        return sum(tokens_until_stopped(owner.flag, seen))

    async def main() -> None:
        task = asyncio.create_task(owner.run(generation))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    owner.finish(PATIENCE_S)  # returns once the stopped generation has returned
    assert seen == ["llama m"]
    assert llama_thread.stopped_total() == before + 1
    again = ModelThread("n")  # a new job on a model is not born stopped
    assert again.call(lambda: again.flag.raised()) is False
    again.finish(PATIENCE_S)


def test_a_stream_left_early_is_stopped_and_torn_down_on_the_models_thread() -> None:
    owner = ModelThread("m")
    seen: list[str] = []

    async def main() -> list[int]:
        got = []
        stream = owner.astream(lambda: tokens_until_stopped(owner.flag, seen))
        async for token in stream:
            got.append(token)
            if len(got) == 3:
                break
        await stream.aclose()  # type: ignore[attr-defined]
        return got

    assert asyncio.run(main()) == [0, 1, 2]
    owner.finish(PATIENCE_S)
    assert seen == ["llama m"]

    sync_owner = ModelThread("s")
    sync_seen: list[str] = []
    stream = sync_owner.stream(lambda: tokens_until_stopped(sync_owner.flag, sync_seen))
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()  # type: ignore[attr-defined]
    sync_owner.finish(PATIENCE_S)
    assert sync_seen == ["llama s"]


def test_a_stream_carries_every_item_then_the_producers_error() -> None:
    owner = ModelThread("m")

    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("bad prompt")

    async def main() -> list[int]:
        got = []
        with pytest.raises(ValueError, match="bad prompt"):
            async for item in owner.astream(failing):
                got.append(item)
        return got

    assert asyncio.run(main()) == [1]
    assert list(owner.stream(lambda: iter([1, 2, 3]))) == [1, 2, 3]
    owner.finish(PATIENCE_S)


def test_ctrl_c_raises_every_models_flag_and_queued_work_is_refused_until_undone() -> None:
    first, second = ModelThread("a"), ModelThread("b")
    try:
        stop_generation()
        assert first.flag.raised() and second.flag.raised()
        assert first.call(lambda: first.flag.raised())  # a job started now sees it too
    finally:
        allow_generation()
    assert not first.flag.raised() and not second.flag.raised()
    first.finish(PATIENCE_S)
    second.finish(PATIENCE_S)


def test_at_exit_every_open_model_is_stopped_and_closed_on_its_own_thread() -> None:
    owner = ModelThread("m")
    closed_on: list[str] = []
    seen: list[str] = []
    owner.close_with(lambda: closed_on.append(threading.current_thread().name))
    owner.submit(lambda: sum(tokens_until_stopped(owner.flag, seen)))
    time.sleep(0.05)
    llama_thread.close_all(PATIENCE_S)
    assert seen == ["llama m"] and closed_on == ["llama m"]
    assert owner not in llama_thread._LIVE
