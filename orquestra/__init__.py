"""Orquestra: a brain and a coder executor sharing one GPU, swapped by a VRAM-aware manager."""

from orquestra.commander import SmartCommander, create_smart_commander
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

__version__ = "0.1.0"

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
