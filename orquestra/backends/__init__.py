"""Model backends: the effects that carry out the manager's load and unload decisions."""

from orquestra.backends.base import Capabilities, LoadedModel, ModelBackend, ModelFacts

__all__ = ["Capabilities", "LoadedModel", "ModelBackend", "ModelFacts"]
