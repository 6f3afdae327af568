"""Which node a front sends a request to, and which model each node keeps home."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orquestra.policy.placement import (
    LEASE_WAIT_S,
    UNMEASURED_LOAD_S,
    UNMEASURED_UNLOAD_S,
    ModelCost,
    NodeView,
    home_roles,
    place,
    predicted_swap_s,
)

GIB = 2**30
A, B, C = "http://a:11435", "http://b:11435", "http://c:11435"


def node(url: str, **fields: object) -> NodeView:
    return NodeView(url, up=True, **fields)  # type: ignore[arg-type]


def test_an_idle_resident_node_wins_over_affinity_queue_and_cost() -> None:
    nodes = [node(A, queue=0), node(B, resident=frozenset({"coder"}), queue=5)]
    assert place("coder", nodes, affinity=A).url == B  # type: ignore[union-attr]


def test_a_leased_resident_model_gives_way_to_the_conversation_s_node() -> None:
    nodes = [
        node(A, resident=frozenset({"coder"}), leased=frozenset({"coder"})),
        node(B, queue=3),
    ]
    assert place("coder", nodes, affinity=B).url == B  # type: ignore[union-attr]
    assert place("coder", nodes).url == A  # type: ignore[union-attr]  # no swap beats a load


def test_then_the_shortest_queue_then_the_cheapest_swap() -> None:
    slow = {"coder": ModelCost(footprint=9 * GIB, load_s=30.0)}
    fast = {"coder": ModelCost(footprint=9 * GIB, load_s=2.0)}
    nodes = [
        node(A, queue=2, costs=fast, free=16 * GIB),
        node(B, queue=1, costs=slow, free=16 * GIB),
        node(C, queue=1, costs=fast, free=16 * GIB),
    ]
    assert place("coder", nodes).url == C  # type: ignore[union-attr]


def test_a_swap_costs_its_load_plus_the_unloads_a_lack_of_room_forces() -> None:
    costs = {
        "coder": ModelCost(footprint=9 * GIB, load_s=4.0),
        "brain": ModelCost(footprint=13 * GIB, unload_s=0.5),
    }
    roomy = node(A, resident=frozenset({"brain"}), free=10 * GIB, costs=costs)
    tight = node(A, resident=frozenset({"brain"}), free=3 * GIB, costs=costs)
    assert predicted_swap_s(roomy, "coder") == 4.0
    assert predicted_swap_s(tight, "coder") == 4.5
    assert predicted_swap_s(tight, "brain") == 0.0
    unknown = node(B, resident=frozenset({"other"}))
    assert predicted_swap_s(unknown, "coder") == UNMEASURED_LOAD_S + UNMEASURED_UNLOAD_S
    held = node(B, resident=frozenset({"other"}), leased=frozenset({"other"}))
    assert predicted_swap_s(held, "coder") == predicted_swap_s(unknown, "coder") + LEASE_WAIT_S


def test_nodes_that_are_down_are_never_chosen() -> None:
    nodes = [NodeView(A, up=False, resident=frozenset({"coder"})), node(B)]
    assert place("coder", nodes).url == B  # type: ignore[union-attr]
    assert place("coder", [NodeView(A, up=False)]) is None


def test_nodes_keep_the_two_roles_home_in_turn() -> None:
    assert home_roles([A, B, C]) == {A: "brain", B: "executor", C: "brain"}


@given(
    st.lists(
        st.tuples(st.booleans(), st.booleans(), st.integers(0, 5), st.booleans()),
        min_size=1,
        max_size=6,
    )
)
def test_an_up_node_holding_the_model_idle_is_always_chosen_when_there_is_one(
    shapes: list[tuple[bool, bool, int, bool]],
) -> None:
    nodes = [
        NodeView(
            f"http://n{i}",
            up=up,
            resident=frozenset({"m"}) if resident else frozenset(),
            leased=frozenset({"m"}) if leased else frozenset(),
            queue=queue,
        )
        for i, (up, resident, queue, leased) in enumerate(shapes)
    ]
    chosen = place("m", nodes)
    idle = [n for n in nodes if n.up and "m" in n.resident and "m" not in n.leased]
    if not any(n.up for n in nodes):
        assert chosen is None
    elif idle:
        assert chosen in idle
    else:
        assert chosen is not None and chosen.up
