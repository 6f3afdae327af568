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
# llama.cpp asks an abort callback, between the steps of every decode, whether to stop.
# The callback is libc's strlen over this two-byte buffer: it answers "stop" (length 1)
# once `stop_generation` writes a byte, with no Python call (no GIL) in llama.cpp's
# compute threads. So even reading a long prompt stops within a step.
_ABORT_FLAG = ctypes.create_string_buffer(2)


def stop_generation() -> None:
    """Make every in-process generation stop at its next step (and refuse new ones).

    A decode stopped midway raises GenerationStoppedError; llama.cpp drops the partial
    KV entries, so the model answers correctly again after `allow_generation`.
    """
    _STOP.set()
    _ABORT_FLAG[0] = b"x"


def allow_generation() -> None:
    """Undo `stop_generation` (for a process that goes on after an interrupted run)."""
    _ABORT_FLAG[0] = b"\0"
    _STOP.clear()


def _strlen_address() -> int | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None)
        return ctypes.cast(libc.strlen, ctypes.c_void_p).value
    except (OSError, AttributeError):
        return None


def watch_for_stop(llama: Any) -> bool:
    """Let `stop_generation` abort `llama`'s decoding mid-prompt; False where unsupported."""
    import llama_cpp

    address = _strlen_address()
    if address is None:
        return False
    callback = llama_cpp.ggml_abort_callback(address)
    llama_cpp.llama_set_abort_callback(
        llama.ctx, callback, ctypes.cast(_ABORT_FLAG, ctypes.c_void_p)
    )
    llama._orquestra_abort_callback = callback  # keep the function pointer alive
    return True


def stopper(eos: int) -> Any:
    """A logits processor that makes the model end its reply once `stop_generation` ran.

    A processor cannot raise (llama.cpp calls it through a C callback), so it leaves the
    end-of-sequence token as the only choice: the generation ends at the next token.
    """

    def process(input_ids: Any, scores: Any) -> Any:
        if _STOP.is_set():
            scores[:] = -math.inf
            scores[eos] = 0.0
        return scores

    return process


def stopping() -> bool:
    """Whether `stop_generation` was called (and not undone)."""
    return _STOP.is_set()
