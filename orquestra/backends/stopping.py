"""Stopping in-process generation at once (Ctrl-C), including while a prompt is read.

Kept free of heavy imports: the command line needs it whether or not llama-cpp-python
is installed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import threading
from typing import Any

_STOP = threading.Event()


class AbortFlag:
    """One model's "stop now" flag, read by llama.cpp between the steps of every decode.

    llama.cpp asks an abort callback, between the steps of every decode, whether to stop.
    The callback is libc's strlen over this flag's two-byte buffer: it answers "stop"
    (length 1) once the flag is raised, with no Python call (no GIL) in llama.cpp's compute
    threads. So even reading a long prompt stops within a step. The sampler reads the same
    flag at every token (`stopper`).
    """

    def __init__(self) -> None:
        self.buffer = ctypes.create_string_buffer(2)
        if _STOP.is_set():
            self.raise_()
        _FLAGS.add(self)

    def raise_(self) -> None:
        """Stop the model's generation at its next step."""
        self.buffer[0] = b"x"

    def lower(self) -> None:
        """Let the model generate again."""
        self.buffer[0] = b"\0"

    def raised(self) -> bool:
        """Whether the model's generation is to stop."""
        return self.buffer[0] != b"\0"

    def forget(self) -> None:
        """The model is closed: `stop_generation` no longer needs to reach it."""
        _FLAGS.discard(self)


_FLAGS: set[AbortFlag] = set()


def stop_generation() -> None:
    """Make every in-process generation stop at its next step (and refuse new ones).

    A decode stopped midway raises GenerationStoppedError; llama.cpp drops the partial
    KV entries, so the model answers correctly again after `allow_generation`.
    """
    _STOP.set()
    for flag in list(_FLAGS):
        flag.raise_()


def allow_generation() -> None:
    """Undo `stop_generation` (for a process that goes on after an interrupted run)."""
    _STOP.clear()
    for flag in list(_FLAGS):
        flag.lower()


def _strlen_address() -> int | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        return ctypes.cast(libc.strlen, ctypes.c_void_p).value
    except (OSError, AttributeError):
        return None


def watch_for_stop(llama: Any, flag: AbortFlag) -> bool:
    """Let `flag` abort `llama`'s decoding mid-prompt; False where unsupported."""
    import llama_cpp

    address = _strlen_address()
    if address is None:
        return False
    callback = llama_cpp.ggml_abort_callback(address)
    llama_cpp.llama_set_abort_callback(
        llama.ctx, callback, ctypes.cast(flag.buffer, ctypes.c_void_p)
    )
    llama._orquestra_abort_callback = callback  # keep the function pointer alive
    llama._orquestra_abort_flag = flag  # and the buffer llama.cpp reads
    return True


def stopper(eos: int, flag: AbortFlag) -> Any:
    """A logits processor that makes the model end its reply once `flag` is raised.

    A processor cannot raise (llama.cpp calls it through a C callback), so it leaves the
    end-of-sequence token as the only choice: the generation ends at the next token.
    """

    def process(input_ids: Any, scores: Any) -> Any:
        if flag.raised():
            scores[:] = -math.inf
            scores[eos] = 0.0
        return scores

    return process


def stopping() -> bool:
    """Whether `stop_generation` was called (and not undone)."""
    return _STOP.is_set()
