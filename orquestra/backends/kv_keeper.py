"""KV kept across swaps: a llama-server model's slots saved before unload, restored after load.

A conversation resumed after its model was swapped out and back then continues from its
cached prefix instead of evaluating it again. The files live in the router's
`--slot-save-path` (llama-server reads and writes them itself); Orquestra names them
after the model and its settings (`orquestra.backends.kv_files`) and keeps their total
under `ORQUESTRA_KV_CACHE_GB`, dropping the oldest. A restore that fails leaves the slot
empty, so the next request evaluates its prompt normally: slower, never wrong.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from orquestra.backends.kv_files import (
    KV_PREFIX,
    KvFile,
    files_to_drop,
    kv_stem,
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
    files_dropped: int = 0


def _saved_files(directory: Path, stem: str) -> list[tuple[int, str]]:
    found = []
    for path in directory.glob(f"{stem}-slot*"):
        slot = slot_of(path.name, stem)
        if slot is not None:
            found.append((slot, path.name))
    return sorted(found)


def _trim(directory: Path, budget_bytes: int) -> int:
    files = []
    for path in directory.glob(f"{KV_PREFIX}*"):
        try:
            stat = path.stat()
        except OSError:
            continue
        files.append(KvFile(path.name, stat.st_size, stat.st_mtime))
    dropped = 0
    for name in files_to_drop(files, budget_bytes):
        try:
            (directory / name).unlink()
            dropped += 1
        except OSError as exc:
            log.warning("Could not drop the saved KV cache %s: %s", name, exc)
    return dropped


class KvKeeper:
    """Saves and restores the slots of the models a router runs."""

    def __init__(self, router: LlamaRouter, budget_bytes: int) -> None:
        self._router = router
        self.budget_bytes = budget_bytes
        self.tally = KvTally()
        self._warned = False

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
            try:
                await self._router.slot_action(
                    model.id, slot_id, "save", slot_filename(stem, slot_id)
                )
                saved += 1
            except BackendError as exc:
                log.warning("Could not save slot %d of %s: %s", slot_id, model.id, exc)
        self.tally.slots_saved += saved
        self.tally.files_dropped += await asyncio.to_thread(_trim, directory, self.budget_bytes)
        return saved

    async def restore(self, model: RouterModel) -> int:
        """Restore `model`'s saved slots into its new process; return the tokens restored."""
        directory = await self.directory(model)
        if directory is None:
            return 0
        stem = kv_stem(model.id, model.settings_args())
        tokens = 0
        for slot_id, name in await asyncio.to_thread(_saved_files, directory, stem):
            try:
                answer = await self._router.slot_action(model.id, slot_id, "restore", name)
            except BackendError as exc:
                await self._forget(model, slot_id, directory / name, exc)
                continue
            restored = answer.get("n_restored")
            tokens += restored if isinstance(restored, int) else 0
            self.tally.slots_restored += 1
        self.tally.tokens_restored += tokens
        return tokens

    async def _forget(self, model: RouterModel, slot_id: int, path: Path, exc: Exception) -> None:
        """After a failed restore: empty the slot and drop the file, so nothing half-read stays."""
        self.tally.failed_restores += 1
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
        await asyncio.to_thread(path.unlink, missing_ok=True)
