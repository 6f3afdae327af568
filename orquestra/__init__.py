"""Orquestra: a brain and a coder executor sharing one GPU, swapped by a VRAM-aware manager.

The package's names are the runtime's (manager, settings, errors, events) and the
application shell's commander, which sits above the workflow (`graph/`). Each is imported
when first named, so importing one module of the package (`orquestra.telemetry`, say)
loads nothing else, and never the workflow.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orquestra.app.commander import SmartCommander, create_smart_commander
    from orquestra.checkpoints import open_checkpointer
    from orquestra.errors import (
        BackendError,
        BackendUnavailableError,
        CheckpointStoreError,
        ModelNotFoundError,
        ModelTooLargeError,
        OrquestraError,
        OutOfMemoryError,
        PolicyError,
        ServerBusyError,
        SettingsError,
        SwapTimeoutError,
    )
    from orquestra.events import SwapEvent
    from orquestra.manager import ModelManager
    from orquestra.runtime import build_model_manager, get_model_manager, set_model_manager
    from orquestra.settings import Settings, load_settings

__version__ = "0.1.0"

_RUNTIME = frozenset({"build_model_manager", "get_model_manager", "set_model_manager"})
_SETTINGS = frozenset({"Settings", "load_settings"})
# Names served by the application shell (`orquestra.app`), above the workflow.
_SHELL_NAMES = frozenset({"SmartCommander", "create_smart_commander"})


def __getattr__(name: str) -> Any:
    """Load a public name on first use (PEP 562), so `import orquestra.x` stays light."""
    module: Any
    if name.endswith("Error"):  # every exception lives in orquestra.errors
        from orquestra import errors as module
    elif name == "SwapEvent":
        from orquestra import events as module
    elif name == "ModelManager":
        from orquestra import manager as module
    elif name == "open_checkpointer":
        from orquestra import checkpoints as module
    elif name in _RUNTIME:
        from orquestra import runtime as module
    elif name in _SETTINGS:
        from orquestra import settings as module
    elif name in _SHELL_NAMES:
        from orquestra.app import commander as module
    else:
        raise AttributeError(f"module 'orquestra' has no attribute {name!r}")
    value = getattr(module, name, None)
    if value is None:
        raise AttributeError(f"module 'orquestra' has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = [
    "BackendError",
    "BackendUnavailableError",
    "CheckpointStoreError",
    "ModelManager",
    "ModelNotFoundError",
    "ModelTooLargeError",
    "OrquestraError",
    "OutOfMemoryError",
    "PolicyError",
    "ServerBusyError",
    "Settings",
    "SettingsError",
    "SmartCommander",
    "SwapEvent",
    "SwapTimeoutError",
    "__version__",
    "build_model_manager",
    "create_smart_commander",
    "get_model_manager",
    "load_settings",
    "open_checkpointer",
    "set_model_manager",
]
