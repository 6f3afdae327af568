"""The lease queue grants what admission admits and returns the admission; it never calls back."""

from __future__ import annotations

import asyncio

import pytest

from orquestra.scheduler.leases import LeaseQueue

BRAIN, CODER = "brain:latest", "coder:14b"


async def test_interleaved_requests_are_granted_per_model_and_the_swap_is_named() -> None:
    queue = LeaseQueue(batch_limit=8)
    futures = [queue.enter(model)[1] for model in (BRAIN, CODER, BRAIN, CODER)]
    admission = queue.admit(frozenset({BRAIN}))
    assert admission.next_model == CODER  # the caller decides to swap; nothing started
    assert [f.done() for f in futures] == [True, False, True, False]
    assert queue.leases_on(BRAIN) == 2 and queue.queued() == {CODER: 2}
    assert queue.leased_models() == frozenset({BRAIN})
    queue.release(BRAIN)
    queue.release(BRAIN)
    assert queue.admit(frozenset({CODER})).next_model is None
    assert all(f.done() for f in futures) and queue.leases_on(CODER) == 2
    assert queue.last_granted == CODER


async def test_a_cancelled_request_that_was_granted_is_reported_for_release() -> None:
    queue = LeaseQueue(batch_limit=2)
    waiting_ticket, waiting = queue.enter(CODER)
    granted_ticket, granted = queue.enter(BRAIN)
    queue.admit(frozenset({BRAIN}))
    assert queue.withdraw(waiting_ticket, waiting) is False  # never granted: just dropped
    assert queue.withdraw(granted_ticket, granted) is True  # granted: the caller releases
    assert queue.queued() == {}


async def test_failing_a_model_fails_only_its_waiters() -> None:
    queue = LeaseQueue(batch_limit=2)
    _, brain = queue.enter(BRAIN)
    _, executor = queue.enter(CODER)
    queue.fail(CODER, RuntimeError("out of memory"))
    with pytest.raises(RuntimeError, match="out of memory"):
        await executor
    assert not brain.done() and queue.waiting and not queue.idle


async def test_two_roles_on_one_model_share_its_lease_count() -> None:
    queue = LeaseQueue(batch_limit=2)
    queue.enter("qwen:7b")  # one lineup's brain...
    queue.enter("qwen:7b")  # ...and its executor (or another lineup's): one model
    queue.admit(frozenset({"qwen:7b"}))
    assert queue.leases_on("qwen:7b") == 2
    assert queue.leased_models() == frozenset({"qwen:7b"})
    queue.release("qwen:7b")
    queue.release("qwen:7b")
    assert queue.idle and queue.leased_models() == frozenset()
    await asyncio.sleep(0)
