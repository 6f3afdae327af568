"""Which node serves a request, and which model each node keeps home: pure decisions.

A front (`orquestra serve --node URL …`) stands before several schedulers, one per GPU,
each publishing what it holds and what a swap costs it (`NodeView`, read from its
status). For each request the front picks, in this order:

1. a node where the model is resident and nobody holds a lease on it (it answers now,
   and disturbs no one);
2. the node that already holds this conversation's KV (its affinity key: the run's
   thread id, or a client's `x-orquestra-affinity` header), so a prompt prefix is not
   read again;
3. the shortest queue;
4. the lowest predicted swap seconds (0 when resident; else its measured load time, plus
   the unloads a lack of free memory forces and a wait for each lease held on a model in
   the way, from the node's own swap history and footprint ledger).

Homes: with several nodes and the two roles, node i keeps role i mod 2 home, so each
model of a steady hybrid workload stays where it is and no node swaps at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from orquestra.settings import ROLES, Role

# What a load or unload is taken to cost on a node that has never measured one.
UNMEASURED_LOAD_S = 10.0
UNMEASURED_UNLOAD_S = 1.0
# What a lease held on a model in the way adds: the swap waits for it to be given back.
LEASE_WAIT_S = 5.0


@dataclass(frozen=True)
class ModelCost:
    """What one model costs a node, as the node measured it."""

    footprint: int | None = None
    """Bytes it takes in VRAM (None: never measured there)."""
    load_s: float | None = None
    unload_s: float | None = None


@dataclass(frozen=True)
class NodeView:
    """One node as the front last read it."""

    url: str
    up: bool
    resident: frozenset[str] = frozenset()
    leased: frozenset[str] = frozenset()
    """Models with a lease held on them."""
    queue: int = 0
    """Requests waiting for a model, and leases being taken."""
    free: int = 0
    """VRAM bytes free within its budget."""
    costs: Mapping[str, ModelCost] = field(default_factory=dict)


def predicted_swap_s(node: NodeView, model: str) -> float:
    """Seconds `node` would spend making `model` resident (0 when it is)."""
    if model in node.resident:
        return 0.0
    cost = node.costs.get(model, ModelCost())
    load = cost.load_s if cost.load_s is not None else UNMEASURED_LOAD_S
    needs_room = cost.footprint is None or cost.footprint > node.free
    if not needs_room or not node.resident:
        return load
    unloads = sum(
        c.unload_s if (c := node.costs.get(m)) and c.unload_s is not None else UNMEASURED_UNLOAD_S
        for m in node.resident
    )
    return load + unloads + LEASE_WAIT_S * len(node.resident & node.leased)


def place(model: str, nodes: Sequence[NodeView], affinity: str | None = None) -> NodeView | None:
    """The node that serves `model` now (None when no node is up).

    Args:
        model: The model the request names.
        nodes: Every node, in the order they were given.
        affinity: The URL of the node holding this conversation's KV, if one does.
    """
    up = [n for n in nodes if n.up]
    if not up:
        return None

    def rank(indexed: tuple[int, NodeView]) -> tuple[bool, bool, int, float, int]:
        order, node = indexed
        idle_resident = model in node.resident and model not in node.leased
        return (
            not idle_resident,
            node.url != affinity,
            node.queue,
            predicted_swap_s(node, model),
            order,
        )

    return min(enumerate(up), key=rank)[1]


def home_roles(urls: Sequence[str]) -> dict[str, Role]:
    """The role each node keeps home: the brain on the first, then the executor, in turn."""
    return {url: ROLES[index % len(ROLES)] for index, url in enumerate(urls)}
