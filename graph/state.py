"""The graph's state schema (defined beside the nodes that read and write it)."""

from nodes.state import State

__all__ = ["State"]
