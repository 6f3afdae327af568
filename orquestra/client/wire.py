"""What `orquestra serve` and its Orquestra clients agree on, beyond Ollama's API."""

# The header a client sends with requests made under a lease it holds.
LEASE_HEADER = "x-orquestra-lease"
# Hold a lease: NDJSON, first line granted (with the swaps made for it), then heartbeats.
LEASE_PATH = "/orquestra/lease"
# The scheduler's status: `ManagerStatus.as_dict()` and the gateway's counters.
STATUS_PATH = "/orquestra/status"
# Register a lineup (`Lineup.as_dict()`); answers it as served (names resolved, pinned).
LINEUP_PATH = "/orquestra/lineup"
# Ask an idle autostarted scheduler to exit, so one for another upstream can start.
EXIT_PATH = "/orquestra/exit"
# A client's sandbox runs, counted by the scheduler.
CODE_RUNS_PATH = "/orquestra/code-runs"
# A client's challenge (a fresh nonce) to the scheduler, and the scheduler's answer to it
# (`orquestra.credentials`): the proof that it is the user's own.
CHALLENGE_HEADER = "x-orquestra-challenge"
PROOF_HEADER = "x-orquestra-proof"
# Set the role whose model a scheduler keeps home (a front gives each node its own).
HOME_PATH = "/orquestra/home"
# A client's conversation key, so a front sends its requests where its KV already is.
AFFINITY_HEADER = "x-orquestra-affinity"
