"""Who gets a model next: batching same-model work without starving the others. Pure.

Requests wait in arrival order, each for a model (whichever lineup and role asked).
A request whose model is resident (and not about to be evicted) is admitted at once,
unless a request for another model is already waiting for a swap: then only requests
older than that waiter, plus at most `batch_limit` newer ones per model, are admitted,
so A B A B arriving together runs as A A B B (one swap) and the waiting model is
served after a bounded number of others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Waiter:
    """A queued request for a model."""

    ticket: int
    """Arrival order: smaller is older."""
    model: str


@dataclass(frozen=True)
class Admission:
    """What the scheduler does now."""

    grants: tuple[int, ...]
    """Tickets admitted now, in arrival order."""
    next_model: str | None
    """The model of the oldest request that needs a swap, if any."""
    head: int | None = None
    """The ticket of that request (newer ones for resident models count against the limit)."""


def admit(
    waiting: Sequence[Waiter],
    servable: frozenset[str],
    admitted_while_contended: Mapping[str, int],
    batch_limit: int,
) -> Admission:
    """Choose the requests to admit and the model to swap to next.

    Args:
        waiting: Queued requests, in any order (sorted here by ticket).
        servable: Models resident and not being evicted.
        admitted_while_contended: For each model, requests newer than the oldest
            swap-waiter already admitted since that waiter arrived.
        batch_limit: How many such newer requests a model may still be given.

    Returns:
        The admitted tickets and the model a swap should bring in, if any.
    """
    ordered = sorted(waiting, key=lambda w: w.ticket)
    head = next((w for w in ordered if w.model not in servable), None)
    budget = {model: batch_limit - admitted_while_contended.get(model, 0) for model in servable}
    grants: list[int] = []
    for waiter in ordered:
        if waiter.model not in servable:
            continue
        if head is None or waiter.ticket < head.ticket:
            grants.append(waiter.ticket)
        elif budget[waiter.model] > 0:
            budget[waiter.model] -= 1
            grants.append(waiter.ticket)
    return Admission(tuple(grants), head.model if head else None, head.ticket if head else None)


def home_target(
    homes: Mapping[str, str],
    resident: frozenset[str],
    *,
    queued: bool,
    leased: frozenset[str],
    swapping: bool,
    failed: bool,
) -> str | None:
    """The home model to bring back now (after the idle delay), if one is due.

    Each lineup's away model (its executor, when the brain is home) maps to its home
    model. One is due when an away model holds the GPU with no lease on it, its home
    model is not resident, nothing is queued, no swap runs, and the last attempt to go
    home did not fail.

    Args:
        homes: Away model -> the home model of its lineup (empty: no home model).
        resident: Models resident now.
        queued: Whether any request waits.
        leased: Models with a lease held.
        swapping: Whether a swap is in flight.
        failed: Whether the last attempt to go home failed (not retried until a swap works).
    """
    if failed or swapping or queued:
        return None
    for away in sorted(resident):
        home = homes.get(away)
        if home is not None and home not in resident and away not in leased:
            return home
    return None
