"""Orquestra: a brain and a coder executor sharing one GPU, swapped by a VRAM-aware manager.

The package's names are the runtime's (manager, settings, errors, events), imported here,
and the application shell's commander, which sits above the workflow (`graph/`) and is
imported only when first named, so importing any runtime module never loads the workflow.
"""

from typing import TYPE_CHECKING, Any

from orquestra.errors import (
    BackendError,
    BackendUnavailableError,
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

if TYPE_CHECKING:
    from orquestra.app.commander import SmartCommander, create_smart_commander

__version__ = "0.1.0"

# Names served by the application shell (`orquestra.app`), loaded on first use.
_SHELL_NAMES = frozenset({"SmartCommander", "create_smart_commander"})


def __getattr__(name: str) -> Any:
    """Load the application shell's public names on first use (PEP 562)."""
    if name in _SHELL_NAMES:
        from orquestra.app import commander

        value = getattr(commander, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'orquestra' has no attribute {name!r}")


__all__ = [
    "BackendError",
    "BackendUnavailableError",
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
    "set_model_manager",
]
