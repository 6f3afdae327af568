"""The graph's run context (defined beside the nodes that read it; editable in Studio)."""

from nodes.context import Context

__all__ = ["Context"]
