"""KV kept across swaps: a llama-server model's slots saved before unload, restored after load.

A conversation resumed after its model was swapped out and back then continues from its
cached prefix instead of evaluating it again. The files live in the router's
`--slot-save-path` (llama-server reads and writes them itself); Orquestra names them
after the model and its settings (`orquestra.backends.kv_files`) and keeps their total
under `ORQUESTRA_KV_CACHE_GB`, dropping the oldest. A restore that fails leaves the slot
empty, so the next request evaluates its prompt normally: slower, never wrong.

Only what Orquestra saved is restored: the directory must be private to this user, each
file is made private and sealed (size and digest, in memory) as soon as llama-server has
written it, and checked against its seal before llama-server is told to read it. Any
other file with a slot's name is dropped, not restored (`kv_files` decides; the file
system is touched only here). llama-server opens the file by name after the check; the
private directory is what keeps other users from swapping it in between.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from orquestra.backends.kv_files import (
    DIGEST,
    KV_PREFIX,
    PRIVATE_DIR_MODE,
    PRIVATE_FILE_MODE,
    DiskEntry,
    KvFile,
    Seal,
    content_refusal,
    directory_refusal,
    files_to_drop,
    kv_stem,
    restore_refusal,
    seal_refusal,
    slot_filename,
    slot_of,
)
from orquestra.backends.llama_router import LlamaRouter, RouterModel
from orquestra.errors import BackendError

log = logging.getLogger(__name__)


@dataclass
class KvTally:
    """What the keeper did since it started (shown by status and the bench)."""

    slots_saved: int = 0
    slots_restored: int = 0
    tokens_restored: int = 0
    failed_restores: int = 0
    rejected_files: int = 0
    """Slot files not restored because they are not what Orquestra saved (and dropped)."""
    files_dropped: int = 0


def _saved_files(directory: Path, stem: str) -> list[tuple[int, str]]:
    found = []
    for path in directory.glob(f"{stem}-slot*"):
        slot = slot_of(path.name, stem)
        if slot is not None:
            found.append((slot, path.name))
    return sorted(found)


def _trim(directory: Path, budget_bytes: int) -> list[Path]:
    files = []
    for path in directory.glob(f"{KV_PREFIX}*"):
        try:
            stat = path.lstat()
        except OSError:
            continue
        files.append(KvFile(path.name, stat.st_size, stat.st_mtime))
    dropped = []
    for name in files_to_drop(files, budget_bytes):
        try:
            (directory / name).unlink()
            dropped.append(directory / name)
        except OSError as exc:
            log.warning("Could not drop the saved KV cache %s: %s", name, exc)
    return dropped


def _drop(path: Path) -> None:
    """Delete a slot file (a link itself, not what it points to)."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("Could not drop the saved KV cache %s: %s", path, exc)


def _open_no_follow(path: Path) -> int:
    # Never through a link; and a FIFO put in the file's place cannot block the open.
    return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)


def _private_directory(directory: Path, uid: int) -> str | None:
    """Why `directory` cannot hold the slot files; None once it is private (made so here)."""
    try:
        entry = DiskEntry.of(directory.stat())  # a link the user gave as the path is followed
        refusal = directory_refusal(entry, uid)
        if refusal is not None or entry.private:
            return refusal
        os.chmod(directory, PRIVATE_DIR_MODE)
    except OSError as exc:
        return f"it cannot be checked or made private ({exc.strerror})"
    log.warning(
        "Made the KV slot directory %s private (mode %03o -> %03o): other users could read "
        "the conversations saved in it.",
        directory,
        entry.mode,
        PRIVATE_DIR_MODE,
    )
    return None


def _seal(path: Path, uid: int) -> Seal | str:
    """Make the file llama-server just saved private and record its content; or say why not."""
    try:
        with open(_open_no_follow(path), "rb", buffering=0) as file:
            entry = DiskEntry.of(os.fstat(file.fileno()))
            refusal = seal_refusal(entry, uid)
            if refusal is not None:
                return refusal
            os.fchmod(file.fileno(), PRIVATE_FILE_MODE)
            return Seal(entry.size, hashlib.file_digest(file, DIGEST).hexdigest())
    except OSError as exc:
        return f"it cannot be read or made private ({exc.strerror})"


def _vet(path: Path, seal: Seal | None, uid: int) -> str | None:
    """Why the file at `path` must not be restored; None when it is the one `seal` recorded."""
    try:
        refusal = restore_refusal(DiskEntry.of(path.lstat()), seal, uid)
        if refusal is not None:
            return refusal  # judged before opening: no link followed, no device opened
        with open(_open_no_follow(path), "rb", buffering=0) as file:
            # What was opened is judged again: the path may have been swapped since lstat.
            refusal = restore_refusal(DiskEntry.of(os.fstat(file.fileno())), seal, uid)
            if refusal is not None:
                return refusal
            return content_refusal(hashlib.file_digest(file, DIGEST).hexdigest(), seal)
    except OSError as exc:
        return f"it cannot be read ({exc.strerror})"


class KvKeeper:
    """Saves and restores the slots of the models a router runs."""

    def __init__(self, router: LlamaRouter, budget_bytes: int) -> None:
        self._router = router
        self.budget_bytes = budget_bytes
        self.tally = KvTally()
        self._warned = False
        self._refused: set[tuple[Path, str]] = set()
        self._uid = os.geteuid()
        self._seals: dict[Path, Seal] = {}
        """The files saved by this process, by path: the only ones it restores."""

    async def directory(self, model: RouterModel) -> Path | None:
        """Where `model`'s slots are saved, or None when KV keeping is off for it."""
        directory = model.slot_dir
        if self.budget_bytes <= 0:
            return None
        if directory is None or not await asyncio.to_thread(directory.is_dir):
            if not self._warned:
                self._warned = True
                log.info(
                    "llama-server keeps no KV across swaps: %s. Start the router with "
                    "--slot-save-path DIR (a directory on this machine) to keep it.",
                    "no --slot-save-path" if directory is None else f"{directory} is not here",
                )
            return None
        refusal = await asyncio.to_thread(_private_directory, directory, self._uid)
        if refusal is not None:
            if (directory, refusal) not in self._refused:
                self._refused.add((directory, refusal))
                log.error(
                    "Not keeping the KV across swaps in the slot directory %s: %s, so "
                    "another user could plant a forged conversation there. Run `chmod 700 "
                    "%s` if it is yours, or start the router with --slot-save-path DIR "
                    "on a directory of this user's (`mkdir -m 700 DIR`).",
                    directory,
                    refusal,
                    directory,
                )
            return None
        return directory

    async def save(self, model: RouterModel) -> int:
        """Save every slot of `model` that holds a prompt; return how many were saved."""
        directory = await self.directory(model)
        if directory is None or model.status != "loaded":
            return 0
        stem = kv_stem(model.id, model.settings_args())
        saved = 0
        for slot in await self._router.slots(model.id):
            slot_id = slot.get("id")
            if not isinstance(slot_id, int) or not slot.get("n_prompt_tokens"):
                continue
            if slot.get("is_processing"):
                continue  # a generation still runs in it: its state is not final
            path = directory / slot_filename(stem, slot_id)
            self._seals.pop(path, None)
            try:
                await self._router.slot_action(model.id, slot_id, "save", path.name)
            except BackendError as exc:
                log.warning("Could not save slot %d of %s: %s", slot_id, model.id, exc)
                continue
            sealed = await asyncio.to_thread(_seal, path, self._uid)
            if isinstance(sealed, str):
                log.warning("Not keeping slot %d of %s in %s: %s.", slot_id, model.id, path, sealed)
                await asyncio.to_thread(_drop, path)
                continue
            self._seals[path] = sealed
            saved += 1
        self.tally.slots_saved += saved
        dropped = await asyncio.to_thread(_trim, directory, self.budget_bytes)
        for path in dropped:
            self._seals.pop(path, None)
        self.tally.files_dropped += len(dropped)
        return saved

    async def restore(self, model: RouterModel) -> int:
        """Restore `model`'s saved slots into its new process; return the tokens restored."""
        directory = await self.directory(model)
        if directory is None:
            return 0
        stem = kv_stem(model.id, model.settings_args())
        tokens = 0
        for slot_id, name in await asyncio.to_thread(_saved_files, directory, stem):
            path = directory / name
            refusal = await asyncio.to_thread(_vet, path, self._seals.get(path), self._uid)
            if refusal is not None:
                await self._reject(model, slot_id, path, refusal)
                continue
            try:
                answer = await self._router.slot_action(model.id, slot_id, "restore", name)
            except BackendError as exc:
                await self._forget(model, slot_id, path, exc)
                continue
            restored = answer.get("n_restored")
            tokens += restored if isinstance(restored, int) else 0
            self.tally.slots_restored += 1
        self.tally.tokens_restored += tokens
        return tokens

    async def _reject(self, model: RouterModel, slot_id: int, path: Path, refusal: str) -> None:
        """Leave a slot empty rather than restore a file Orquestra cannot vouch for; drop it."""
        self.tally.rejected_files += 1
        log.warning(
            "Not restoring slot %d of %s from %s: %s. Its prompt is evaluated again.",
            slot_id,
            model.id,
            path,
            refusal,
        )
        self._seals.pop(path, None)
        await asyncio.to_thread(_drop, path)

    async def _forget(self, model: RouterModel, slot_id: int, path: Path, exc: Exception) -> None:
        """After a failed restore: empty the slot and drop the file, so nothing half-read stays."""
        self.tally.failed_restores += 1
        self._seals.pop(path, None)
        log.warning(
            "Could not restore slot %d of %s (%s): its prompt is evaluated again.",
            slot_id,
            model.id,
            exc,
        )
        try:
            await self._router.slot_action(model.id, slot_id, "erase")
        except BackendError as erase_error:
            log.debug("Erasing slot %d of %s failed too: %s", slot_id, model.id, erase_error)
        await asyncio.to_thread(_drop, path)
