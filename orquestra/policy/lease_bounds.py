"""How many leases `orquestra serve` grants, and when a held one is taken back: pure rules.

A lease keeps its model resident for a client across its calls, so leases are what a
client could starve the others with. They are bounded three ways: all clients together
(`ORQUESTRA_SERVE_MAX_LEASES`, else 503 as a full queue), one client (a user on this
machine, or an address: `ORQUESTRA_SERVE_MAX_LEASES_PER_CLIENT`, else 429), and in time:
a lease with no request under it for `ORQUESTRA_SERVE_LEASE_IDLE_S` is taken back, so a
client that holds one and does nothing keeps the other model out only that long.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LEASES_SETTING = "ORQUESTRA_SERVE_MAX_LEASES"
PER_CLIENT_SETTING = "ORQUESTRA_SERVE_MAX_LEASES_PER_CLIENT"
LEASE_IDLE_SETTING = "ORQUESTRA_SERVE_LEASE_IDLE_S"
# HTTP's answers: the server is full (503, as Ollama's full queue); this client asks too much.
SERVER_FULL = 503
TOO_MANY = 429


@dataclass(frozen=True)
class LeaseLimits:
    """The bounds, from the settings."""

    total: int
    per_client: int
    idle_s: float


@dataclass(frozen=True)
class Refusal:
    """A lease not granted: the HTTP status and the message naming the setting."""

    status: int
    message: str


def lease_refusal(total: int, of_client: int, client: str, limits: LeaseLimits) -> Refusal | None:
    """Why one more lease must not be granted to `client`, or None.

    Args:
        total: Leases held or asked for now, all clients together.
        of_client: Those of `client`.
        client: Who asks (a user, or an address), named in the refusal.
        limits: The bounds.
    """
    if of_client >= limits.per_client:
        return Refusal(
            TOO_MANY,
            f"too many leases for {client}: it holds or waits for {of_client}, the most one "
            f"client may (give some back, or raise {PER_CLIENT_SETTING} and restart "
            "orquestra serve)",
        )
    if total >= limits.total:
        return Refusal(
            SERVER_FULL,
            f"server busy: {total} leases are held or asked for, the most orquestra serve "
            f"grants at once (retry later, or raise {MAX_LEASES_SETTING} and restart it)",
        )
    return None


def idle_too_long(idle_s: float, limits: LeaseLimits) -> bool:
    """Whether a lease with no request under it for `idle_s` is taken back."""
    return idle_s >= limits.idle_s


def expiry_message(limits: LeaseLimits) -> str:
    """What a client whose lease was taken back is told (on its lease stream)."""
    return (
        f"lease taken back: no request under it for {limits.idle_s:g} s. Its next call "
        f"takes a new one; to hold leases longer idle, raise {LEASE_IDLE_SETTING}."
    )
