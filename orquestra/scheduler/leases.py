"""The request queue and the leases held: who waits for which model, who holds which.

`LeaseQueue.admit` grants what `orquestra.policy.admission.admit` admits (resolving the
waiters' futures) and returns the admission, so the caller decides what to do about the
swap the oldest waiter needs. Requests and leases are per model, whichever lineup and
role asked: two lineups naming one model share its leases.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter

from orquestra.policy.admission import Admission, Waiter, admit


class LeaseQueue:
    """Requests in arrival order and the leases they turn into, on one event loop."""

    def __init__(self, batch_limit: int) -> None:
        self._batch_limit = batch_limit
        self._tickets = itertools.count()
        self._waiting: dict[int, tuple[str, asyncio.Future[None]]] = {}
        self._leases: Counter[str] = Counter()
        self._head: int | None = None
        self._contended: Counter[str] = Counter()
        self.last_granted: str | None = None

    def enter(self, model: str) -> tuple[int, asyncio.Future[None]]:
        """Queue a request; its future resolves when it is granted (or fails)."""
        ticket = next(self._tickets)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[ticket] = (model, future)
        return ticket, future

    def withdraw(self, ticket: int, future: asyncio.Future[None]) -> bool:
        """Take back a cancelled request; True when it had been granted (release it)."""
        if self._waiting.pop(ticket, None) is not None:
            return False
        return future.done() and not (future.cancelled() or future.exception())

    def release(self, model: str) -> None:
        """End one lease on `model`."""
        self._leases[model] -= 1
        if self._leases[model] <= 0:
            del self._leases[model]

    def admit(self, servable: frozenset[str]) -> Admission:
        """Grant what can run now on the servable models; return the admission made."""
        waiting = [Waiter(ticket, model) for ticket, (model, _) in self._waiting.items()]
        admission = admit(waiting, servable, self._contended, self._batch_limit)
        if admission.head != self._head:
            self._head = admission.head
            self._contended.clear()
        for ticket in admission.grants:
            model, future = self._waiting.pop(ticket)
            if admission.head is not None and ticket > admission.head:
                self._contended[model] += 1
            self._leases[model] += 1
            self.last_granted = model
            future.set_result(None)
        return admission

    def fail(self, model: str, exc: Exception) -> None:
        """Fail every request waiting for `model` with `exc`."""
        for ticket, (waiting_for, future) in list(self._waiting.items()):
            if waiting_for == model:
                del self._waiting[ticket]
                if not future.done():
                    future.set_exception(exc)

    def leases_on(self, model: str) -> int:
        """How many leases are held on `model`."""
        return self._leases[model]

    def leased_models(self) -> frozenset[str]:
        """Models with at least one lease held."""
        return frozenset(self._leases)

    def queued(self) -> dict[str, int]:
        """How many requests wait, per model."""
        return dict(Counter(model for model, _ in self._waiting.values()))

    @property
    def waiting(self) -> bool:
        """Whether any request waits."""
        return bool(self._waiting)

    @property
    def idle(self) -> bool:
        """No request waits and no lease is held."""
        return not (self._waiting or self._leases)
