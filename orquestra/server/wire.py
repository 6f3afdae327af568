"""What `orquestra serve` and its Orquestra clients agree on, beyond Ollama's API."""

# The header a client sends with requests made under a lease it holds.
LEASE_HEADER = "x-orquestra-lease"
# Hold a lease: NDJSON, first line granted (with the swaps made for it), then heartbeats.
LEASE_PATH = "/orquestra/lease"
# The scheduler's status: the manager's and the gateway's counters.
STATUS_PATH = "/orquestra/status"
