"""The request queue and the leases held: who waits for which role, who holds which model.

`LeaseQueue.admit` grants what `orquestra.policy.admission.admit` admits (resolving the
waiters' futures) and returns the admission, so the caller decides what to do about the
swap the oldest waiter needs. Leases are counted per model: a model may serve two roles.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Mapping

from orquestra.policy.admission import Admission, Waiter, admit
from orquestra.settings import ROLES, Role


class LeaseQueue:
    """Requests in arrival order and the leases they turn into, on one event loop."""

    def __init__(self, models: Mapping[Role, str], batch_limit: int) -> None:
        self._models = dict(models)
        self._batch_limit = batch_limit
        self._tickets = itertools.count()
        self._waiting: dict[int, tuple[Role, asyncio.Future[None]]] = {}
        self._leases: Counter[str] = Counter()
        self._head: int | None = None
        self._contended: Counter[Role] = Counter()
        self.last_granted: Role | None = None

    def enter(self, role: Role) -> tuple[int, asyncio.Future[None]]:
        """Queue a request; its future resolves when it is granted (or fails)."""
        ticket = next(self._tickets)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[ticket] = (role, future)
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

    def admit(self, servable: frozenset[Role]) -> Admission:
        """Grant what can run now on the servable roles; return the admission made."""
        waiting = [Waiter(ticket, role) for ticket, (role, _) in self._waiting.items()]
        admission = admit(waiting, servable, self._contended, self._batch_limit)
        if admission.head != self._head:
            self._head = admission.head
            self._contended.clear()
        for ticket in admission.grants:
            role, future = self._waiting.pop(ticket)
            if admission.head is not None and ticket > admission.head:
                self._contended[role] += 1
            self._leases[self._models[role]] += 1
            self.last_granted = role
            future.set_result(None)
        return admission

    def fail(self, role: Role, exc: Exception) -> None:
        """Fail every request waiting for `role` with `exc`."""
        for ticket, (waiting_role, future) in list(self._waiting.items()):
            if waiting_role == role:
                del self._waiting[ticket]
                if not future.done():
                    future.set_exception(exc)

    def leases_on(self, model: str) -> int:
        """How many leases are held on `model`."""
        return self._leases[model]

    def leased_models(self) -> frozenset[str]:
        """Models with at least one lease held."""
        return frozenset(self._leases)

    def leased_roles(self) -> frozenset[Role]:
        """Roles whose model has at least one lease held."""
        return frozenset(r for r in ROLES if self._leases[self._models[r]] > 0)

    def queued(self) -> dict[Role, int]:
        """How many requests wait, per role."""
        return dict(Counter(role for role, _ in self._waiting.values()))

    @property
    def waiting(self) -> bool:
        """Whether any request waits."""
        return bool(self._waiting)

    @property
    def idle(self) -> bool:
        """No request waits and no lease is held."""
        return not (self._waiting or self._leases)
