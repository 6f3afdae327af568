"""Model backends: the effects that carry out the manager's load and unload decisions."""

from orquestra.backends.base import LoadedModel, ModelBackend, ModelFacts

__all__ = ["LoadedModel", "ModelBackend", "ModelFacts"]
