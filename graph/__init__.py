"""The LangGraph workflow: route → plan → execute → reflect, with swap steps between models."""

from graph.context import Context
from graph.state import State
from graph.workflow import build_graph, create_workflow, graph

__all__ = ["Context", "State", "build_graph", "create_workflow", "graph"]
