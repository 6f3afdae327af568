"""What the fake server has pulled: model geometry, sizing and Ollama's naming rules.

Holds the constants the fake shares with the API sheet (`shared/docs/ollama-api.md`): the
scheduler's VRAM recovery wait (§10), the default context (§12), the runner options whose
change forces a reload (§11) and the out-of-memory error text (§13).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GIB = 1024**3
# Ollama's scheduler waits this long for freed VRAM to show up before loading (§10).
SERVER_VRAM_RECOVERY_WAIT_S = 5.0
# The server's own default context when a request sets no num_ctx (§12, < 24 GiB cards).
SERVER_DEFAULT_NUM_CTX = 4096
# Compute-graph memory the fake runner adds to weights and KV cache.
FAKE_GRAPH_BYTES = 300 * 1024**2
# Options whose change makes Ollama reload the runner (§11).
RUNNER_OPTIONS = ("num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread")
OOM_MESSAGE = "llama runner process has terminated: cudaMalloc failed: out of memory"


@dataclass
class FakeModel:
    """A pulled model: its weights and the geometry that sizes its KV cache."""

    name: str
    weights: int
    layers: int = 48
    kv_heads: int = 8
    head_dim: int = 128
    heads: int = 40
    capabilities: tuple[str, ...] = ("completion", "tools")
    blob: str | None = None
    """Path named by the modelfile's FROM line (a real file lets prefetch read it)."""

    def kv_bytes(self, num_ctx: int) -> int:
        return self.layers * self.kv_heads * self.head_dim * 2 * 2 * num_ctx

    def runner_size(self, num_ctx: int) -> int:
        return self.weights + self.kv_bytes(num_ctx) + FAKE_GRAPH_BYTES

    def model_info(self) -> dict[str, Any]:
        return {
            "general.architecture": "qwen2",
            "general.parameter_count": self.weights * 2,
            "qwen2.block_count": self.layers,
            "qwen2.attention.head_count": self.heads,
            "qwen2.attention.head_count_kv": self.kv_heads,
            "qwen2.embedding_length": self.heads * self.head_dim,
            "qwen2.context_length": 32768,
        }


def fake_model(name: str, loaded_gb: float, num_ctx: int = 8192, **kw: Any) -> FakeModel:
    """A model that takes `loaded_gb` GiB once loaded with `num_ctx`."""
    probe = FakeModel(name=canonical(name), weights=0, **kw)
    weights = int(loaded_gb * GIB) - probe.kv_bytes(num_ctx) - FAKE_GRAPH_BYTES
    if weights <= 0:
        raise ValueError(f"{loaded_gb} GiB is too small for that geometry")
    probe.weights = weights
    return probe


def default_models() -> list[FakeModel]:
    """The founding pairing on a 16 GiB card: a 13 GiB brain and a 9 GiB executor."""
    return [
        fake_model("qwen2.5-32b-instruct-moe-rtx", 13.0),
        fake_model("qwen2.5-coder:14b", 9.0),
    ]


def canonical(name: str) -> str:
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def parse_keep_alive(value: Any) -> float | None:
    """keep_alive in seconds (negative = forever), None when absent (§9)."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    units = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    for unit in ("ms", "h", "m", "s"):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    if text == "0":
        return 0.0
    raise ValueError(f'time: missing unit in duration "{text}"')


def details() -> dict[str, Any]:
    """The `details` object Ollama attaches to a model in /api/ps, /api/tags and /api/show."""
    return {
        "parent_model": "",
        "format": "gguf",
        "family": "qwen2",
        "families": ["qwen2"],
        "parameter_size": "14B",
        "quantization_level": "Q4_K_M",
    }


def timestamp() -> str:
    """Now, as the `created_at`/`modified_at` fields carry it."""
    return datetime.now(UTC).isoformat()
