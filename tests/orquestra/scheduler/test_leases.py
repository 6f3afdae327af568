"""The lease queue grants what admission admits and returns the admission; it never calls back."""

from __future__ import annotations

import asyncio

import pytest

from orquestra.scheduler.leases import LeaseQueue

MODELS = {"brain": "brain:latest", "executor": "coder:14b"}


async def test_interleaved_requests_are_granted_per_model_and_the_swap_is_named() -> None:
    queue = LeaseQueue(MODELS, batch_limit=8)
    futures = [queue.enter(role)[1] for role in ("brain", "executor", "brain", "executor")]
    admission = queue.admit(frozenset({"brain"}))
    assert admission.next_role == "executor"  # the caller decides to swap; nothing started
    assert [f.done() for f in futures] == [True, False, True, False]
    assert queue.leases_on("brain:latest") == 2 and queue.queued() == {"executor": 2}
    assert queue.leased_roles() == frozenset({"brain"})
    queue.release("brain:latest")
    queue.release("brain:latest")
    assert queue.admit(frozenset({"executor"})).next_role is None
    assert all(f.done() for f in futures) and queue.leases_on("coder:14b") == 2
    assert queue.last_granted == "executor"


async def test_a_cancelled_request_that_was_granted_is_reported_for_release() -> None:
    queue = LeaseQueue(MODELS, batch_limit=2)
    waiting_ticket, waiting = queue.enter("executor")
    granted_ticket, granted = queue.enter("brain")
    queue.admit(frozenset({"brain"}))
    assert queue.withdraw(waiting_ticket, waiting) is False  # never granted: just dropped
    assert queue.withdraw(granted_ticket, granted) is True  # granted: the caller releases
    assert queue.queued() == {}


async def test_failing_a_role_fails_only_its_waiters() -> None:
    queue = LeaseQueue(MODELS, batch_limit=2)
    _, brain = queue.enter("brain")
    _, executor = queue.enter("executor")
    queue.fail("executor", RuntimeError("out of memory"))
    with pytest.raises(RuntimeError, match="out of memory"):
        await executor
    assert not brain.done() and queue.waiting and not queue.idle


async def test_two_roles_on_one_model_share_its_lease_count() -> None:
    queue = LeaseQueue({"brain": "qwen:7b", "executor": "qwen:7b"}, batch_limit=2)
    queue.enter("brain")
    queue.enter("executor")
    queue.admit(frozenset({"brain", "executor"}))
    assert queue.leases_on("qwen:7b") == 2
    assert queue.leased_roles() == frozenset({"brain", "executor"})
    queue.release("qwen:7b")
    queue.release("qwen:7b")
    assert queue.idle and queue.leased_models() == frozenset()
    await asyncio.sleep(0)
