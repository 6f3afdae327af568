"""The footprint ledger: what each model really took in VRAM, per model and options.

Measured from `/api/ps` (`size`, `size_vram`) after a load and kept in a small JSON file
in the user's cache directory, so the next session decides on real sizes instead of
estimates. File I/O runs in a worker thread: callers are async graph nodes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

LEDGER_FILENAME = "footprints.json"
LEDGER_VERSION = 1


@dataclass(frozen=True)
class Footprint:
    """One measurement of a loaded model."""

    size: int
    """Bytes of the whole runner (weights, KV cache, graph)."""
    size_vram: int
    """The part of `size` on the GPU; equal to `size` when 100 % on the GPU."""
    measured_at: float
    """Unix time of the measurement."""


def ledger_key(model: str, options: Mapping[str, object]) -> str:
    """Key of a (model, runner options) pair; options change the footprint."""
    opts = ",".join(f"{k}={options[k]}" for k in sorted(options))
    return f"{model}|{opts}"


class FootprintLedger:
    """Measured footprints, loaded from and saved to `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, Footprint] = {}
        self._loaded = False
        self._save_lock = asyncio.Lock()

    def get(self, model: str, options: Mapping[str, object]) -> Footprint | None:
        """Return the last measurement for `model` with `options`, if any."""
        return self._entries.get(ledger_key(model, options))

    def record(self, model: str, options: Mapping[str, object], size: int, size_vram: int) -> bool:
        """Remember a measurement in memory; return whether it changed (then `asave` it)."""
        key = ledger_key(model, options)
        old = self._entries.get(key)
        if old is not None and (old.size, old.size_vram) == (size, size_vram):
            return False
        self._entries[key] = Footprint(size, size_vram, time.time())
        return True

    def entries(self) -> dict[str, Footprint]:
        """All measurements, by key."""
        return dict(self._entries)

    def _read(self) -> None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            entries = raw["entries"] if raw.get("version") == LEDGER_VERSION else {}
            self._entries = {k: Footprint(**v) for k, v in entries.items()} | self._entries
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # A corrupt ledger only costs estimates until the next load measures again.
            log.warning("Ignoring unreadable footprint ledger %s: %s", self.path, exc)
        self._loaded = True

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "version": LEDGER_VERSION,
            "entries": {k: asdict(v) for k, v in sorted(self._entries.items())},
        }
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".footprints-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, indent=1)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def aload(self) -> None:
        """Read the file once (missing or corrupt files leave the ledger empty)."""
        if not self._loaded:
            await asyncio.to_thread(self._read)

    async def asave(self) -> None:
        """Write all measurements atomically; failures are logged, never raised."""
        async with self._save_lock:
            try:
                await asyncio.to_thread(self._write)
            except OSError as exc:
                log.warning("Could not save footprint ledger %s: %s", self.path, exc)
