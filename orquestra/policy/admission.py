"""Who gets a model next: batching same-model work without starving the other role. Pure.

Requests wait in arrival order. A request whose model is resident (and not about to
be evicted) is admitted at once, unless another role is already waiting for a swap:
then only requests older than that waiter, plus at most `batch_limit` newer ones, are
admitted, so A B A B arriving together runs as A A B B (one swap) and the waiting
role is served after a bounded number of others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from orquestra.settings import Role


@dataclass(frozen=True)
class Waiter:
    """A queued request for a role's model."""

    ticket: int
    """Arrival order: smaller is older."""
    role: Role


@dataclass(frozen=True)
class Admission:
    """What the scheduler does now."""

    grants: tuple[int, ...]
    """Tickets admitted now, in arrival order."""
    next_role: Role | None
    """The role of the oldest request that needs a swap, if any."""
    head: int | None = None
    """The ticket of that request (newer ones for resident roles count against the limit)."""


def admit(
    waiting: Sequence[Waiter],
    servable: frozenset[Role],
    admitted_while_contended: Mapping[Role, int],
    batch_limit: int,
) -> Admission:
    """Choose the requests to admit and the role to swap to next.

    Args:
        waiting: Queued requests, in any order (sorted here by ticket).
        servable: Roles whose model is resident and not being evicted.
        admitted_while_contended: For each role, requests newer than the oldest
            swap-waiter already admitted since that waiter arrived.
        batch_limit: How many such newer requests a role may still be given.

    Returns:
        The admitted tickets and the role a swap should bring in, if any.
    """
    ordered = sorted(waiting, key=lambda w: w.ticket)
    head = next((w for w in ordered if w.role not in servable), None)
    budget = {role: batch_limit - admitted_while_contended.get(role, 0) for role in servable}
    grants: list[int] = []
    for waiter in ordered:
        if waiter.role not in servable:
            continue
        if head is None or waiter.ticket < head.ticket:
            grants.append(waiter.ticket)
        elif budget[waiter.role] > 0:
            budget[waiter.role] -= 1
            grants.append(waiter.ticket)
    return Admission(tuple(grants), head.role if head else None, head.ticket if head else None)


def home_due(
    home: Role | None,
    resident: frozenset[Role],
    *,
    queued: bool,
    leased: frozenset[Role],
    swapping: bool,
    failed: bool,
) -> bool:
    """Whether the home model should come back now (after the idle delay).

    It is due when the other role's model holds the GPU with no lease on it, nothing is
    queued, no swap runs, and the last attempt to bring it home did not fail.

    Args:
        home: The role kept resident when idle, or None for no home model.
        resident: Roles whose model is resident.
        queued: Whether any request waits.
        leased: Roles whose model has a lease held.
        swapping: Whether a swap is in flight.
        failed: Whether the last attempt to go home failed (not retried until a swap works).
    """
    if home is None or failed or swapping or queued:
        return False
    away: Role = "executor" if home == "brain" else "brain"
    return home not in resident and away in resident and away not in leased
