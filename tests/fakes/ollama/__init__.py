"""A stateful fake Ollama server speaking the real wire protocol over loopback.

It follows `shared/docs/ollama-api.md`: empty generate/chat requests load (`done_reason:
"load"`), `keep_alive: 0` unloads *asynchronously* (the model leaves `/api/ps` after a
delay and its VRAM is freed later still, §10), a load that does not fit in VRAM answers
500 out of memory, unknown models 404, a full queue 503, and a request whose runner
options differ from the loaded runner's reloads it (§11). Like Ollama's scheduler it
waits (up to 5 s) for VRAM still being released before it loads the next model.

Every VRAM change is recorded on a timeline so tests can check what the card held at
every instant, not just at the end. `FakeNvml` reads the same ledger as NVML would.

Parts: `models` (pulled models, sizing, naming, constants), `ledger` (VRAM accounting,
asynchronous unload, timeline), `state` (the scheduler state machine), `server` (HTTP),
`nvml` (VRAM probes), `replies` (canned reply bodies and the demo conversation).

Run standalone: `python -m tests.fakes.ollama --port 11434` (for benchmarks, notebooks).
"""

from tests.fakes.ollama.ledger import Runner, TimelineEntry, VramLedger
from tests.fakes.ollama.models import (
    FAKE_GRAPH_BYTES,
    GIB,
    OOM_MESSAGE,
    RUNNER_OPTIONS,
    SERVER_DEFAULT_NUM_CTX,
    SERVER_VRAM_RECOVERY_WAIT_S,
    FakeModel,
    canonical,
    default_models,
    fake_model,
    parse_keep_alive,
)
from tests.fakes.ollama.nvml import FakeNvml, NoNvml
from tests.fakes.ollama.replies import Reply, demo_reply
from tests.fakes.ollama.server import FakeOllama, running
from tests.fakes.ollama.state import FakeOllamaState

__all__ = [
    "FAKE_GRAPH_BYTES",
    "GIB",
    "OOM_MESSAGE",
    "RUNNER_OPTIONS",
    "SERVER_DEFAULT_NUM_CTX",
    "SERVER_VRAM_RECOVERY_WAIT_S",
    "FakeModel",
    "FakeNvml",
    "FakeOllama",
    "FakeOllamaState",
    "NoNvml",
    "Reply",
    "Runner",
    "TimelineEntry",
    "VramLedger",
    "canonical",
    "default_models",
    "demo_reply",
    "fake_model",
    "parse_keep_alive",
    "running",
]
