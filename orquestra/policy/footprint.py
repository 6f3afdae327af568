"""Estimating a model's VRAM before its first load, from Ollama's /api/tags and /api/show.

Pure arithmetic over the weights' size and the GGUF metadata. Once a model has been
loaded, the measured size in the ledger replaces the estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# f16 K and V caches, as Ollama allocates them by default (OLLAMA_KV_CACHE_TYPE=f16).
KV_BYTES_PER_VALUE = 2
# Compute graph and scratch buffers llama.cpp allocates beside weights and KV cache.
GRAPH_OVERHEAD_FRACTION = 0.05
GRAPH_OVERHEAD_MIN_BYTES = 256 * 1024**2
# Used when /api/show gives no layer geometry: KV cache as a share of the weights
# at 8k context, typical of 7B-32B GQA models.
FALLBACK_KV_FRACTION_PER_8K = 0.08


def _int_key(info: Mapping[str, Any], key: str) -> int | None:
    value = info.get(key)
    return int(value) if isinstance(value, (int, float)) and value > 0 else None


def kv_cache_bytes(model_info: Mapping[str, Any], num_ctx: int) -> int | None:
    """Bytes of K and V cache for `num_ctx` tokens, or None when the metadata lacks geometry.

    Args:
        model_info: `/api/show`'s `model_info` (GGUF keys such as `qwen2.block_count`).
        num_ctx: The context window the runner is started with.
    """
    arch = model_info.get("general.architecture")
    if not isinstance(arch, str):
        return None
    layers = _int_key(model_info, f"{arch}.block_count")
    heads = _int_key(model_info, f"{arch}.attention.head_count")
    kv_heads = _int_key(model_info, f"{arch}.attention.head_count_kv") or heads
    embedding = _int_key(model_info, f"{arch}.embedding_length")
    key_len = _int_key(model_info, f"{arch}.attention.key_length")
    value_len = _int_key(model_info, f"{arch}.attention.value_length")
    if not layers or not kv_heads:
        return None
    if key_len is None or value_len is None:
        if not embedding or not heads:
            return None
        key_len = value_len = embedding // heads
    per_token = layers * kv_heads * (key_len + value_len) * KV_BYTES_PER_VALUE
    return per_token * num_ctx


def estimate_footprint(weights_bytes: int, model_info: Mapping[str, Any], num_ctx: int) -> int:
    """Predict the VRAM a model takes when loaded with `num_ctx`: weights, KV cache, graph.

    Args:
        weights_bytes: The model's size from `/api/tags` (the GGUF weights).
        model_info: `/api/show`'s `model_info`; may be empty.
        num_ctx: The context window the role pins.
    """
    kv = kv_cache_bytes(model_info, num_ctx)
    if kv is None:
        kv = int(weights_bytes * FALLBACK_KV_FRACTION_PER_8K * num_ctx / 8192)
    graph = max(int(weights_bytes * GRAPH_OVERHEAD_FRACTION), GRAPH_OVERHEAD_MIN_BYTES)
    return weights_bytes + kv + graph
