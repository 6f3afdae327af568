"""The pure swap decision: every policy, budget and lease combination."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from orquestra.policy.decision import (
    GIB,
    Blocked,
    Limits,
    Load,
    Refusal,
    Resident,
    SwapPlan,
    SwapRequest,
    Unload,
    WaitForVram,
    decide,
)

BRAIN = Resident("brain:latest", 13 * GIB, role="brain")
EXEC = Resident("coder:14b", 9 * GIB, role="executor")
WANT_EXEC = SwapRequest("executor", "coder:14b", 9 * GIB)
WANT_BRAIN = SwapRequest("brain", "brain:latest", 13 * GIB)


def limits(policy: str = "auto", budget_gb: float = 16, margin_gb: float = 0.5) -> Limits:
    return Limits(budget=int(budget_gb * GIB), policy=policy, margin=int(margin_gb * GIB))  # type: ignore[arg-type]


def test_resident_model_needs_no_action() -> None:
    for policy in ("alternate", "coresident", "auto"):
        assert decide(WANT_BRAIN, [BRAIN], limits(policy)) == SwapPlan()


def test_alternate_unloads_the_other_role_waits_then_loads() -> None:
    plan = decide(WANT_EXEC, [BRAIN], limits("alternate"))
    assert isinstance(plan, SwapPlan)
    assert [type(a) for a in plan.actions] == [Unload, WaitForVram, Load]
    assert plan.unloads == ("brain:latest",)
    wait = plan.actions[1]
    assert isinstance(wait, WaitForVram) and wait.models == ("brain:latest",)
    assert plan.actions[-1] == Load("coder:14b", "executor")


def test_alternate_swaps_even_models_that_would_fit_together() -> None:
    small_brain = Resident("brain:latest", 7 * GIB, role="brain")
    plan = decide(SwapRequest("executor", "coder:14b", 5 * GIB), [small_brain], limits("alternate"))
    assert isinstance(plan, SwapPlan) and plan.unloads == ("brain:latest",)


def test_auto_keeps_both_when_they_fit_with_margin() -> None:
    small_brain = Resident("brain:latest", 7 * GIB, role="brain")
    plan = decide(SwapRequest("executor", "coder:14b", 5 * GIB), [small_brain], limits("auto"))
    assert plan == SwapPlan((Load("coder:14b", "executor"),))


def test_auto_alternates_when_the_margin_is_not_left() -> None:
    brain = Resident("brain:latest", 10 * GIB, role="brain")
    request = SwapRequest("executor", "coder:14b", int(5.75 * GIB))
    plan = decide(request, [brain], limits("auto", margin_gb=0.5))
    assert isinstance(plan, SwapPlan) and plan.unloads == ("brain:latest",)
    plan = decide(request, [brain], limits("auto", margin_gb=0.0))
    assert plan == SwapPlan((Load("coder:14b", "executor"),))


def test_auto_alternates_13_and_9_on_16() -> None:
    plan = decide(WANT_EXEC, [BRAIN], limits("auto"))
    assert isinstance(plan, SwapPlan) and plan.unloads == ("brain:latest",)


def test_coresident_refuses_models_that_cannot_fit_together() -> None:
    refusal = decide(WANT_EXEC, [BRAIN], limits("coresident"))
    assert isinstance(refusal, Refusal) and refusal.kind == "policy"
    assert "ORQUESTRA_SWAP_POLICY" in refusal.reason and "auto" in refusal.reason


def test_coresident_evicts_strangers_but_never_the_partner() -> None:
    stranger = Resident("llava:7b", 5 * GIB)
    small_brain = Resident("brain:latest", 7 * GIB, role="brain")
    plan = decide(
        SwapRequest("executor", "coder:14b", 5 * GIB), [small_brain, stranger], limits("coresident")
    )
    assert isinstance(plan, SwapPlan) and plan.unloads == ("llava:7b",)


def test_model_larger_than_the_budget_is_refused_with_the_fix() -> None:
    refusal = decide(SwapRequest("brain", "huge:70b", 40 * GIB), [], limits())
    assert isinstance(refusal, Refusal) and refusal.kind == "too_large"
    assert "ORQUESTRA_ALLOW_PARTIAL_OFFLOAD" in refusal.reason and "40.0 GiB" in refusal.reason


def test_partial_offload_opt_in_evicts_everything_then_loads() -> None:
    allow = Limits(budget=16 * GIB, policy="auto", allow_partial_offload=True)
    plan = decide(SwapRequest("brain", "huge:70b", 40 * GIB), [EXEC], allow)
    assert isinstance(plan, SwapPlan) and plan.unloads == ("coder:14b",)
    assert plan.actions[-1] == Load("huge:70b", "brain")


def test_leased_model_in_the_way_blocks_instead_of_evicting() -> None:
    leased_brain = Resident("brain:latest", 13 * GIB, leases=2, role="brain")
    assert decide(WANT_EXEC, [leased_brain], limits()) == Blocked(("brain:latest",))


def test_unleased_strangers_go_before_a_leased_partner() -> None:
    leased_brain = Resident("brain:latest", 6 * GIB, leases=1, role="brain")
    stranger = Resident("llava:7b", 6 * GIB)
    plan = decide(
        SwapRequest("executor", "coder:14b", 5 * GIB),
        [leased_brain, stranger],
        limits("auto", margin_gb=0.5),
    )
    assert isinstance(plan, SwapPlan) and plan.unloads == ("llava:7b",)


def test_empty_card_loads_without_waiting() -> None:
    assert decide(WANT_BRAIN, [], limits("alternate")) == SwapPlan((Load("brain:latest", "brain"),))


sizes = st.integers(min_value=1, max_value=24).map(lambda g: g * GIB // 2)


@given(
    policy=st.sampled_from(["alternate", "coresident", "auto"]),
    budget=st.integers(min_value=4, max_value=48).map(lambda g: g * GIB // 2),
    margin=st.sampled_from([0, GIB // 2, GIB]),
    request=sizes,
    residents=st.lists(
        st.tuples(sizes, st.integers(min_value=0, max_value=2), st.sampled_from(["brain", None])),
        max_size=4,
    ),
)
def test_plans_never_exceed_the_budget_or_evict_leases(
    policy: str,
    budget: int,
    margin: int,
    request: int,
    residents: list[tuple[int, int, str | None]],
) -> None:
    others = [
        Resident(f"m{i}", size, leases, role)  # type: ignore[arg-type]
        for i, (size, leases, role) in enumerate(residents)
    ]
    lim = Limits(budget=budget, policy=policy, margin=margin)  # type: ignore[arg-type]
    decision = decide(SwapRequest("executor", "target", request), others, lim)
    if isinstance(decision, Refusal):
        assert request > budget or policy == "coresident"
        return
    if isinstance(decision, Blocked):
        assert decision.waiting_on and all(
            r.leases > 0 for r in others if r.model in decision.waiting_on
        )
        return
    evicted = set(decision.unloads)
    assert not any(r.leases for r in others if r.model in evicted)
    kept = [r for r in others if r.model not in evicted]
    assert sum(r.footprint for r in kept) + request <= budget
    if policy == "alternate":
        assert kept == []
    assert decision.actions[-1] == Load("target", "executor")
    if evicted:
        assert isinstance(decision.actions[-2], WaitForVram)


def test_every_small_grid_case_is_consistent() -> None:
    """All policies, lease states and size pairs from 2 to 16 GiB on a 16 GiB card."""
    count = 0
    for policy, sizes_gb, leases in itertools.product(
        ("alternate", "coresident", "auto"),
        itertools.product(range(2, 17, 2), repeat=2),
        itertools.product((0, 1), repeat=1),
    ):
        brain = Resident("b", sizes_gb[0] * GIB, leases=leases[0], role="brain")
        request = SwapRequest("executor", "e", sizes_gb[1] * GIB)
        decision = decide(request, [brain], limits(policy))
        both_fit = (sizes_gb[0] + sizes_gb[1] + 0.5) <= 16
        if policy == "coresident" and not both_fit:
            assert isinstance(decision, Refusal)
        elif policy == "alternate" or not both_fit:
            expected = Blocked(("b",)) if leases[0] else None
            assert decision == expected or (
                isinstance(decision, SwapPlan) and decision.unloads == ("b",)
            )
        else:
            assert decision == SwapPlan((Load("e", "executor"),))
        count += 1
    assert count == 3 * 64 * 2


def test_a_lineup_keeps_its_own_partner_before_another_lineup_s_model() -> None:
    # B asks for its coder; A's idle coder goes before B's own brain, though smaller.
    residents = [
        Resident("brain-b", 8 * GIB, role="brain"),
        Resident("coder-a", 5 * GIB, role="executor"),
    ]
    request = SwapRequest("executor", "coder-b", 5 * GIB, partners=frozenset({"brain-b"}))
    plan = decide(request, residents, Limits(budget=16 * GIB, policy="auto"))
    assert isinstance(plan, SwapPlan) and plan.unloads == ("coder-a",)
