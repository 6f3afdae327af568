"""Admission: batching same-model requests without starving the other role."""

from __future__ import annotations

from orquestra.policy.admission import Waiter, admit


def waiters(roles: str) -> list[Waiter]:
    return [Waiter(i, "brain" if r == "B" else "executor") for i, r in enumerate(roles)]


def test_everything_for_the_resident_model_is_admitted_without_contention() -> None:
    adm = admit(waiters("BBB"), frozenset({"brain"}), {}, batch_limit=2)
    assert adm.grants == (0, 1, 2) and adm.next_model is None


def test_interleaved_requests_are_batched_per_model() -> None:
    adm = admit(waiters("BEBEBE"), frozenset({"brain"}), {}, batch_limit=8)
    assert adm.grants == (0, 2, 4)
    assert adm.next_model == "executor"


def test_newer_requests_for_the_resident_model_are_bounded() -> None:
    adm = admit(waiters("EBBBBB"), frozenset({"brain"}), {}, batch_limit=2)
    assert adm.grants == (1, 2)
    assert adm.next_model == "executor"
    adm = admit(waiters("EBBBBB"), frozenset({"brain"}), {"brain": 2}, batch_limit=2)
    assert adm.grants == ()


def test_requests_older_than_the_waiting_role_are_never_held_back() -> None:
    adm = admit(waiters("BBBE"), frozenset({"brain"}), {"brain": 99}, batch_limit=1)
    assert adm.grants == (0, 1, 2)


def test_nothing_resident_asks_for_the_oldest_role() -> None:
    adm = admit(waiters("EB"), frozenset(), {}, batch_limit=8)
    assert adm.grants == () and adm.next_model == "executor"


def test_both_resident_admits_everyone() -> None:
    adm = admit(waiters("BEBE"), frozenset({"brain", "executor"}), {}, batch_limit=1)
    assert adm.grants == (0, 1, 2, 3) and adm.next_model is None


def test_the_oldest_swap_waiter_is_reported_as_the_head() -> None:
    adm = admit(waiters("BBEBE"), frozenset({"brain"}), {}, batch_limit=8)
    assert (adm.next_model, adm.head) == ("executor", 2)
    assert admit(waiters("BB"), frozenset({"brain"}), {}, batch_limit=8).head is None
