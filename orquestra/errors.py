"""Errors Orquestra raises for expected failures, each naming its fix.

Expected failures (Ollama not running, a model not pulled, a model too big for the
budget) surface as one of these with a message a user can act on, never as a wall
of traceback from an HTTP client.
"""

from __future__ import annotations


class OrquestraError(Exception):
    """Base class of every error Orquestra raises on purpose."""


class SettingsError(OrquestraError, ValueError):
    """A setting (environment variable, `.env` entry or argument) has an invalid value."""


class BackendUnavailableError(OrquestraError):
    """The model server cannot be reached."""


class ModelNotFoundError(OrquestraError):
    """The model is not available on the server (for Ollama: not pulled)."""


class OutOfMemoryError(OrquestraError):
    """The server could not allocate memory for a model, even after evicting."""


class ModelTooLargeError(OrquestraError):
    """The model cannot fit entirely in the VRAM budget (and partial offload is off)."""


class PolicyError(OrquestraError):
    """The swap policy forbids the request (e.g. `coresident` with models that do not fit)."""


class ServerBusyError(OrquestraError):
    """The server kept answering 503 (queue full) after the bounded retries."""


class SwapTimeoutError(OrquestraError):
    """An unloaded model did not leave the server within the unload timeout."""


class ManagerBusyError(OrquestraError):
    """A run asked for other models or another policy while runs of the current ones went on."""


class BackendError(OrquestraError):
    """The server answered with an error Orquestra has no specific advice for."""


class UntrustedServerError(OrquestraError):
    """What answers at the scheduler's address cannot prove it is the user's `orquestra serve`."""


def is_tools_unsupported(exc: BaseException) -> bool:
    """Whether a model call failed because the model has no tool-calling capability.

    Ollama answers 400 `... does not support tools`; other servers word it alike.
    """
    return "does not support tools" in str(exc).lower()


class RequestTooLongError(OrquestraError, ValueError):
    """The request does not fit in a model's context window (the message names both sizes)."""


class GenerationStoppedError(OrquestraError):
    """An in-process generation was stopped because the run was interrupted."""


class CheckpointStoreError(OrquestraError):
    """The store of the runs' checkpoints (ORQUESTRA_DB_URL) cannot be opened or used."""


class RunResumeError(OrquestraError, ValueError):
    """A thread's run cannot be resumed (or a new one started) as asked; the message says how."""
