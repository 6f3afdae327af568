"""How often to poll a condition that is usually met within milliseconds but may take seconds."""

from __future__ import annotations

# Start fast (an unload on an idle server often completes in milliseconds), then poll at
# a fixed share of the time already waited, so a long wait costs at most that share in
# extra latency, up to a ceiling that keeps a stuck wait from hammering the server.
POLL_MIN_S = 0.001
POLL_FRACTION = 0.01
POLL_MAX_S = 0.025


def poll_interval(waited_s: float, *, cheap: bool = False) -> float:
    """Seconds to sleep before the next poll after `waited_s` of waiting.

    Args:
        waited_s: How long the caller has waited so far.
        cheap: The check is an in-process call (NVML), not a request to a server, so
            it can be repeated at the minimum interval throughout.
    """
    if cheap:
        return POLL_MIN_S
    return min(max(POLL_MIN_S, waited_s * POLL_FRACTION), POLL_MAX_S)
