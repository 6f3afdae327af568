"""Saved KV caches on disk: their names, which are dropped, which may be restored (pure).

A model's slots are saved to files before it is unloaded and restored after it loads
again. A file is only valid for the same model run with the same settings (context size,
cache types, ...), so its name carries a hash of both; the disk they may fill is bounded,
and the oldest saves go first.

A name is predictable, so it proves nothing: a restored file becomes the model's context
(a forged conversation, if someone else wrote it). A file is restored only when it is
the one Orquestra saved, as recorded in a `Seal` when it was saved (its size and digest,
kept in the process's memory, which no other user can write), still a regular file of
this user that no one else can read or write, in a directory no one else can write to.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

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


# The digest a saved file is sealed with (`hashlib.file_digest`; about 1.4 GB/s here).
DIGEST = "sha256"
# Modes Orquestra gives the slot directory (when it is its own) and each saved file.
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# Permission bits that let users other than the owner read, write or enter.
SHARED_BITS = stat.S_IRWXG | stat.S_IRWXO
# Of those, the ones that let them add, replace or remove files in a directory.
SHARED_WRITE_BITS = stat.S_IWGRP | stat.S_IWOTH
NOT_SAVED_HERE = "Orquestra did not save it in this process (left from an earlier run, or planted)"


@dataclass(frozen=True)
class DiskEntry:
    """What `lstat` (or `stat`, `fstat`) says of one path: enough to judge whose it is."""

    kind: Literal["file", "directory", "link", "other"]
    owner: int
    """The owner's uid."""
    mode: int
    """The permission bits (`stat.S_IMODE`)."""
    size: int

    @classmethod
    def of(cls, status: os.stat_result) -> DiskEntry:
        """The entry a stat result describes."""
        kind: Literal["file", "directory", "link", "other"] = "other"
        if stat.S_ISREG(status.st_mode):
            kind = "file"
        elif stat.S_ISDIR(status.st_mode):
            kind = "directory"
        elif stat.S_ISLNK(status.st_mode):
            kind = "link"
        return cls(kind, status.st_uid, stat.S_IMODE(status.st_mode), status.st_size)

    @property
    def private(self) -> bool:
        """Whether no one but its owner may read, write or enter it."""
        return not self.mode & SHARED_BITS


@dataclass(frozen=True)
class Seal:
    """What Orquestra recorded of a slot file as it saved it: the only content it restores."""

    size: int
    digest: str
    """The `DIGEST` of the content, in hex."""


def directory_refusal(entry: DiskEntry, uid: int) -> str | None:
    """Why the slot directory must not hold KV files for `uid`, or None when it may.

    A directory of `uid`'s that others may only read or enter may be used once it is made
    private (see `DiskEntry.private`); one that others may write to, or that `uid` does not
    own, is refused: someone else could put files in it, or rename them.
    """
    if entry.kind != "directory":
        return "it is not a directory"
    if entry.owner != uid:
        return f"it belongs to uid {entry.owner}, not to this user (uid {uid})"
    if entry.mode & SHARED_WRITE_BITS:
        return f"other users can write to it (mode {entry.mode:03o})"
    return None


def seal_refusal(entry: DiskEntry, uid: int) -> str | None:
    """Why the file llama-server just saved cannot be sealed, or None when it can.

    Its mode is not judged: llama-server writes with the default mode, which sealing
    replaces with `PRIVATE_FILE_MODE`.
    """
    if entry.kind == "link":
        return "it is a symbolic link"
    if entry.kind != "file":
        return "it is not a regular file"
    if entry.owner != uid:
        return f"it belongs to uid {entry.owner}, not to this user (uid {uid})"
    return None


def restore_refusal(entry: DiskEntry, seal: Seal | None, uid: int) -> str | None:
    """Why a slot file must not be restored, judged on its metadata; None: read its content.

    `seal` is what was recorded when Orquestra saved that name, None when it did not.
    """
    if seal is None:
        return NOT_SAVED_HERE
    refusal = seal_refusal(entry, uid)
    if refusal is not None:
        return refusal
    if not entry.private:
        return f"its mode {entry.mode:03o} lets other users read or write it"
    if entry.size != seal.size:
        return f"its size changed since it was saved ({seal.size} bytes, now {entry.size})"
    return None


def content_refusal(digest: str, seal: Seal | None) -> str | None:
    """Why a slot file whose content has `digest` must not be restored, or None when it may."""
    if seal is None:
        return NOT_SAVED_HERE
    if digest != seal.digest:
        return "its content changed since it was saved"
    return None
