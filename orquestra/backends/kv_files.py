"""Saved KV caches on disk: how they are named and which are dropped to keep the bound (pure).

A model's slots are saved to files before it is unloaded and restored after it loads
again. A file is only valid for the same model run with the same settings (context size,
cache types, ...), so its name carries a hash of both; the disk they may fill is bounded,
and the oldest saves go first.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Every file Orquestra saves starts with this, so it never touches the user's own saves.
KV_PREFIX = "orquestra-kv-"
KV_SUFFIX = ".bin"
_UNSAFE = re.compile(r"[^a-z0-9._-]+")
# Characters of the settings hash in a file name (64 bits: no collision in practice).
HASH_CHARS = 16


def kv_stem(model: str, settings_args: Sequence[str]) -> str:
    """The name shared by `model`'s slot files when run with `settings_args`."""
    digest = hashlib.sha256("\0".join([model, *settings_args]).encode()).hexdigest()
    slug = _UNSAFE.sub("-", model.lower()).strip("-.")[:48] or "model"
    return f"{KV_PREFIX}{slug}-{digest[:HASH_CHARS]}"


def slot_filename(stem: str, slot: int) -> str:
    """The file slot `slot` is saved to."""
    return f"{stem}-slot{slot}{KV_SUFFIX}"


def slot_of(filename: str, stem: str) -> int | None:
    """The slot a file of `stem` holds, or None when it is not one of `stem`'s files."""
    head, tail = f"{stem}-slot", KV_SUFFIX
    if not (filename.startswith(head) and filename.endswith(tail)):
        return None
    number = filename[len(head) : -len(tail)]
    return int(number) if number.isdigit() else None


@dataclass(frozen=True)
class KvFile:
    """One saved slot on disk."""

    name: str
    size: int
    saved_at: float


def files_to_drop(files: Iterable[KvFile], budget_bytes: int) -> list[str]:
    """The saves to delete, oldest first, until the rest fit in `budget_bytes`."""
    oldest_first = sorted(files, key=lambda f: (f.saved_at, f.name))
    total = sum(f.size for f in oldest_first)
    drop: list[str] = []
    for entry in oldest_first:
        if total <= budget_bytes:
            break
        drop.append(entry.name)
        total -= entry.size
    return drop
