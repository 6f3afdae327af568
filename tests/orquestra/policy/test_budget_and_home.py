"""The budget, the fit rule the doctor shares with the decision, and the home rule. Pure."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from orquestra.policy.admission import home_target
from orquestra.policy.budget import FALLBACK_BUDGET_GB, choose_budget
from orquestra.policy.decision import (
    GIB,
    Limits,
    Resident,
    SwapPlan,
    SwapRequest,
    decide,
    fits_together,
)
from orquestra.settings import ROLES, Role


def test_the_setting_wins_then_the_card_then_a_typical_card() -> None:
    assert choose_budget(10, 24 * GIB).bytes == 10 * GIB
    assert choose_budget(10, 24 * GIB).source == "ORQUESTRA_VRAM_BUDGET_GB"
    assert choose_budget(None, 24 * GIB).bytes == 24 * GIB
    assumed = choose_budget(None, None)
    assert assumed.bytes == int(FALLBACK_BUDGET_GB * GIB) and assumed.assumed
    assert not choose_budget(None, 24 * GIB).assumed


sizes = st.integers(min_value=0, max_value=40 * GIB)


@given(st.lists(sizes, max_size=4), sizes, st.integers(0, 2 * GIB), st.integers(1, 48 * GIB))
def test_adding_a_model_never_makes_a_set_fit(
    footprints: list[int], extra: int, margin: int, budget: int
) -> None:
    limits = Limits(budget=budget, policy="auto", margin=margin)
    if fits_together([*footprints, extra], limits):
        assert fits_together(footprints, limits)


@given(sizes, sizes, st.integers(0, 2 * GIB), st.integers(1, 48 * GIB))
def test_the_doctor_s_fit_is_the_decision_s_fit(
    brain: int, executor: int, margin: int, budget: int
) -> None:
    # Whether the decision keeps the brain while loading the executor is exactly whether
    # the two fit together, as the doctor reports it.
    limits = Limits(budget=budget, policy="auto", margin=margin)
    request = SwapRequest("executor", "coder", executor)
    plan = decide(request, [Resident("brain", brain, role="brain")], limits)
    if executor <= budget:
        assert isinstance(plan, SwapPlan)
        kept = not plan.unloads
        assert kept == fits_together([brain, executor], limits)


def _expected(home: Role, resident: set[Role], queued: bool, leased: set[Role]) -> bool:
    away: Role = "executor" if home == "brain" else "brain"
    return home not in resident and away in resident and away not in leased and not queued


def test_the_home_rule_on_every_combination() -> None:
    subsets = [set(c) for n in range(3) for c in itertools.combinations(ROLES, n)]
    for home, resident, leased in itertools.product(ROLES, subsets, subsets):
        away: Role = "executor" if home == "brain" else "brain"
        for queued, swapping, failed in itertools.product((False, True), repeat=3):
            target = home_target(
                {away: home},
                frozenset(resident),
                queued=queued,
                leased=frozenset(leased),
                swapping=swapping,
                failed=failed,
            )
            wanted = _expected(home, resident, queued, leased) and not (swapping or failed)
            assert (target == home) == wanted, (home, resident, leased, queued, swapping, failed)
            assert target in (None, home)
    no_home = home_target(
        {}, frozenset({"executor"}), queued=False, leased=frozenset(), swapping=False, failed=False
    )
    assert no_home is None


def test_each_lineup_goes_home_to_its_own_brain() -> None:
    # Two lineups: coder-a's home is brain-a, coder-b's is brain-b.
    homes = {"coder-a": "brain-a", "coder-b": "brain-b"}
    idle = {"queued": False, "leased": frozenset[str](), "swapping": False, "failed": False}
    assert home_target(homes, frozenset({"coder-b"}), **idle) == "brain-b"  # type: ignore[arg-type]
    assert home_target(homes, frozenset({"coder-a"}), **idle) == "brain-a"  # type: ignore[arg-type]
    # A model no lineup sends home (a plain client's) stays where it is.
    assert home_target(homes, frozenset({"other"}), **idle) is None  # type: ignore[arg-type]
