"""The run's pipes: the code sent to the waiting bootstrap, its output read with a cap.

Output beyond the cap is read and dropped (the code never blocks on a full pipe), and
counted, so the result says how much was cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from tools.launcher import Launched

READ_CHUNK = 64 * 1024


class Capture:
    """Reads a pipe incrementally, keeping at most `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    async def drain(self, pipe: Any) -> None:
        """Read `pipe` to its end (on the running loop), keeping what fits."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=READ_CHUNK)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        try:
            await self._read(reader)
        finally:
            transport.close()

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(READ_CHUNK):
            room = self.limit - len(self.data)
            if room > 0:
                self.data += chunk[:room]
            self.dropped += max(len(chunk) - max(room, 0), 0)

    def text(self) -> str:
        """What was kept, decoded, with a note of how much was dropped."""
        out = self.data.decode("utf-8", errors="replace")
        if self.dropped:
            out += f"\n[... output truncated: {self.dropped} more bytes not shown ...]\n"
        return out


def send_code(launched: Launched, code: str, stdin: str | None) -> None:
    """Hand `code` to the waiting bootstrap and `stdin` to the code (blocking: in a thread)."""
    payload = b"RUN\n" + code.encode("utf-8", errors="replace")
    try:
        view = memoryview(payload)
        while view:
            written = os.write(launched.code_pipe, view)
            view = view[written:]
    except OSError:
        pass  # the process died before reading all of it: reported by its exit status
    finally:
        with contextlib.suppress(OSError):
            os.close(launched.code_pipe)
    if launched.proc.stdin is not None:
        with contextlib.suppress(OSError):
            if stdin:
                launched.proc.stdin.write(stdin.encode("utf-8"))
            launched.proc.stdin.close()
