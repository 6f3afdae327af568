"""The swap decision: which models to unload and load so a role can run. Pure, no I/O.

Given what is resident, what each model really takes, the VRAM budget, the policy and
the leases held, `decide` returns either the ordered actions (unload X, wait for VRAM,
load Y), a `Blocked` answer (a model that must go is leased: wait for its release), or
a `Refusal` with its reason. The manager carries the actions out; tests pin the rules
here on hundreds of cases in milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orquestra.settings import Role, Settings, SwapPolicy

GIB = 1024**3


def gib(n_bytes: int | float) -> float:
    """Bytes to GiB, rounded for messages and status."""
    return round(n_bytes / GIB, 2)


@dataclass(frozen=True)
class Resident:
    """A model the server holds in VRAM now."""

    model: str
    footprint: int
    """Bytes it takes in VRAM (measured when known)."""
    leases: int = 0
    """Callers currently using it; a leased model is never evicted."""
    role: Role | None = None
    """A role it serves in a lineup; None for a model no lineup names (someone else's, or
    one a plain client asked for)."""


@dataclass(frozen=True)
class SwapRequest:
    """A model asked to be resident (for a lineup's role, or for a plain client)."""

    role: Role | None
    model: str
    footprint: int
    """Bytes the model will take once loaded (measured or estimated)."""
    partners: frozenset[str] = frozenset()
    """The other models of the lineups that name it (kept before other lineups' models)."""


@dataclass(frozen=True)
class Limits:
    """The budget and the rules the decision obeys."""

    budget: int
    """Bytes of VRAM Orquestra may fill."""
    policy: SwapPolicy
    margin: int = 0
    """Headroom kept free whenever more than one model is resident (policy auto)."""
    allow_partial_offload: bool = False

    @classmethod
    def of(cls, settings: Settings, budget: int) -> Limits:
        """The limits `settings` set, under a budget of `budget` bytes."""
        return cls(
            budget=budget,
            policy=settings.swap_policy,
            margin=int(settings.vram_margin_gb * GIB),
            allow_partial_offload=settings.allow_partial_offload,
        )


@dataclass(frozen=True)
class Unload:
    """Ask the server to unload `model`."""

    model: str
    reason: str


@dataclass(frozen=True)
class WaitForVram:
    """Wait until the unloaded models have left and `free_bytes` of budget are free."""

    models: tuple[str, ...]
    free_bytes: int


@dataclass(frozen=True)
class Load:
    """Load `model` (for `role`, when a lineup names it) with its pinned options."""

    model: str
    role: Role | None


Action = Unload | WaitForVram | Load


@dataclass(frozen=True)
class SwapPlan:
    """Actions to run in order; empty when the model is already resident."""

    actions: tuple[Action, ...] = ()

    @property
    def unloads(self) -> tuple[str, ...]:
        """Models this plan evicts."""
        return tuple(a.model for a in self.actions if isinstance(a, Unload))


@dataclass(frozen=True)
class Blocked:
    """The request must wait: these leased models have to be released first."""

    waiting_on: tuple[str, ...]


@dataclass(frozen=True)
class Refusal:
    """The request can never be served under these limits."""

    kind: str
    """`too_large` (cannot fit even alone) or `policy` (the policy forbids it)."""
    reason: str


Decision = SwapPlan | Blocked | Refusal


def _eviction_order(candidates: Sequence[Resident], partners: frozenset[str]) -> list[Resident]:
    # Unleased before leased (a plan that needs no wait beats one that does), models no
    # lineup names before another lineup's before the requester's own partner (what its
    # lineup needs next), then the largest first: the fewest unloads that free the most.
    return sorted(
        candidates,
        key=lambda r: (r.leases > 0, r.role is not None, r.model in partners, -r.footprint),
    )


def fits_together(footprints: Sequence[int], limits: Limits) -> bool:
    """Whether models of these footprints fit in the budget at once.

    The margin is kept whenever more than one model is resident.
    """
    margin = limits.margin if len(footprints) > 1 else 0
    return sum(footprints) + margin <= limits.budget


def _fits(kept: Sequence[Resident], request: SwapRequest, limits: Limits) -> bool:
    return fits_together([*(r.footprint for r in kept), request.footprint], limits)


def _for(role: Role | None) -> str:
    return f" ({role})" if role else ""


def _too_large(request: SwapRequest, limits: Limits) -> Refusal:
    return Refusal(
        kind="too_large",
        reason=(
            f"{request.model}{_for(request.role)} needs {gib(request.footprint)} GiB but the VRAM "
            f"budget is {gib(limits.budget)} GiB, so it cannot run 100 % on the GPU. Use a "
            f"smaller quantisation or num_ctx, raise ORQUESTRA_VRAM_BUDGET_GB if the card has "
            f"more, or set ORQUESTRA_ALLOW_PARTIAL_OFFLOAD=true to accept a slow CPU/GPU split."
        ),
    )


def decide(request: SwapRequest, residents: Sequence[Resident], limits: Limits) -> Decision:
    """Decide how to make `request.model` resident.

    Args:
        request: The role, its model and the bytes that model takes.
        residents: Every model the server holds now, ours and others'.
        limits: Budget, margin, policy and whether partial offload is allowed.

    Returns:
        A `SwapPlan` (empty when already resident), `Blocked` when a leased model is
        in the way, or a `Refusal` explaining why the request can never be served.
    """
    if any(r.model == request.model for r in residents):
        return SwapPlan()
    partial = request.footprint > limits.budget
    if partial and not limits.allow_partial_offload:
        return _too_large(request, limits)

    others = [r for r in residents if r.model != request.model]
    if limits.policy == "alternate" or partial:
        evict = _eviction_order(others, request.partners)
        kept: list[Resident] = []
    else:
        kept = list(others)
        evict = []
        for victim in _eviction_order(others, request.partners):
            if _fits(kept, request, limits):
                break
            if limits.policy == "coresident" and victim.role is not None:
                continue
            kept.remove(victim)
            evict.append(victim)
        if not _fits(kept, request, limits):
            partner = [r for r in kept if r.role is not None]
            needed = request.footprint + sum(r.footprint for r in partner) + limits.margin
            return Refusal(
                kind="policy",
                reason=(
                    f"ORQUESTRA_SWAP_POLICY=coresident keeps both models resident, but "
                    f"{request.model} with {', '.join(r.model for r in partner)} needs "
                    f"{gib(needed)} GiB and the budget is {gib(limits.budget)} GiB. Use "
                    f"ORQUESTRA_SWAP_POLICY=auto or alternate, or smaller models."
                ),
            )

    leased = tuple(r.model for r in evict if r.leases > 0)
    if leased:
        return Blocked(waiting_on=leased)

    actions: list[Action] = []
    for victim in evict:
        why = "someone else's model" if victim.role is None else f"{victim.role} model"
        actions.append(Unload(victim.model, reason=f"make room for {request.model} ({why})"))
    if evict:
        free = min(request.footprint, limits.budget) + (limits.margin if kept else 0)
        actions.append(WaitForVram(models=tuple(r.model for r in evict), free_bytes=free))
    actions.append(Load(request.model, request.role))
    return SwapPlan(tuple(actions))
