"""The workflow's edges decide every route; the nodes never name a node.

Edges live in `graph.edges` and read what they need from the state. The scan below holds
`nodes/` to that: no string in a node's code may be a node's name, other than words of
other vocabularies that happen to be spelled the same (a state key such as "plan", a
stream event's type such as "reflect"). Docstrings may name nodes.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END

from graph.edges import (
    after_brain_return,
    after_brain_swap,
    after_execute,
    after_plan,
    after_reflect,
    after_rescue,
    after_respond,
    after_route,
    unless_failed,
)
from graph.workflow import create_workflow
from nodes.state import State

NODES_DIR = Path(__file__).resolve().parents[2] / "nodes"
STATE_KEYS = frozenset(State.__annotations__)


def node_names() -> frozenset[str]:
    """Every name the compiled graph gives a node, START and END included."""
    return frozenset(create_workflow().compile().nodes) | {END}


def step(code: bool, **extra: Any) -> dict[str, Any]:
    return {"description": "a step", "needs_code": code, **extra}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"task_type": "code"}, "swap_to_executor"),
        ({"task_type": "hybrid"}, "swap_to_brain"),
        ({"task_type": "planning"}, "swap_to_brain"),
        ({"task_type": "conversation"}, "swap_to_brain"),
        ({}, "swap_to_brain"),
    ],
)
def test_after_route(state: State, expected: str) -> None:
    assert after_route(state) == expected


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"task_type": "hybrid"}, "plan"),
        ({"task_type": "planning"}, "respond"),
        ({"task_type": "conversation"}, "respond"),
        ({"task_type": "hybrid", "error": "not pulled"}, END),
        ({"task_type": "planning", "error": "refused"}, END),
    ],
)
def test_after_brain_swap(state: State, expected: str) -> None:
    assert after_brain_swap(state) == expected


def test_after_respond_runs_the_tools_the_brain_called_or_ends() -> None:
    call = {"name": "run_python", "args": {"code": "print(1)"}, "id": "call-1"}
    asked = AIMessage("", tool_calls=[call])
    assert after_respond({"messages": [HumanMessage("hi"), asked]}) == "brain_tools"
    assert after_respond({"messages": [HumanMessage("hi"), AIMessage("Hello!")]}) == END
    assert after_respond({"messages": [HumanMessage("hi")]}) == END


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        ({"goal": "g", "steps": [step(False), step(True)]}, "swap_to_executor"),
        ({"goal": "g", "steps": [step(False)]}, "reflect"),
        ({"goal": "g", "steps": []}, "reflect"),
        (None, "reflect"),
    ],
)
def test_after_plan(plan: dict[str, Any] | None, expected: str) -> None:
    assert after_plan({"plan": plan}) == expected


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"task_type": "hybrid", "pending_rescue": []}, "swap_back_to_brain"),
        ({"task_type": "code", "pending_rescue": [1]}, "swap_back_to_brain"),
        ({"task_type": "code", "pending_rescue": []}, END),
        ({"task_type": "code"}, END),
    ],
)
def test_after_execute(state: State, expected: str) -> None:
    assert after_execute(state) == expected


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"task_type": "code", "pending_rescue": [1]}, "rescue"),
        ({"task_type": "hybrid", "pending_rescue": [2]}, "rescue"),
        ({"task_type": "hybrid", "pending_rescue": []}, "reflect"),
        ({"task_type": "code", "pending_rescue": []}, END),
        ({"task_type": "hybrid", "pending_rescue": [1], "error": "out of memory"}, END),
    ],
)
def test_after_brain_return(state: State, expected: str) -> None:
    assert after_brain_return(state) == expected


@pytest.mark.parametrize(
    ("state", "expected"),
    [({"task_type": "hybrid"}, "reflect"), ({"task_type": "code"}, END)],
)
def test_after_rescue(state: State, expected: str) -> None:
    assert after_rescue(state) == expected


@pytest.mark.parametrize(
    ("state", "expected"),
    [({"feedback": "print more digits"}, "rescue"), ({"feedback": None}, END), ({}, END)],
)
def test_after_reflect(state: State, expected: str) -> None:
    assert after_reflect(state) == expected


def test_unless_failed_goes_on_unless_the_swap_stopped_the_run() -> None:
    to_execute = unless_failed("execute")
    assert to_execute({"task_type": "code"}) == "execute"
    assert to_execute({"error": None}) == "execute"
    assert to_execute({"error": "the executor is too large"}) == END
    assert to_execute.__name__ == "to_execute_unless_failed"


def test_every_edge_goes_to_a_node_of_the_graph() -> None:
    workflow = create_workflow()
    names = node_names()
    for start, branches in workflow.branches.items():
        assert start in workflow.nodes
        for branch in branches.values():
            assert branch.ends is not None and set(branch.ends.values()) <= names


def _exempt(tree: ast.AST) -> set[int]:
    """Ids of the string constants that are not node names: docstrings, state keys, events.

    A bare string statement is a docstring (of a module, class, function or attribute); a
    state key is a field of `State` as a dict key, a subscript or `.get`'s key; an event
    type is the value of a dict literal's "type" key, of a `type=` keyword (a typed stream
    event built), or the `Literal` of a `type` field (the event declared).
    """
    exempt: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            exempt.update(id(k.value) for k in node.keywords if k.arg == "type")
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "type":
            exempt.update(id(c) for c in ast.walk(node.annotation) if isinstance(c, ast.Constant))
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            exempt.add(id(node.value))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in STATE_KEYS:
                    exempt.add(id(key))
                if isinstance(key, ast.Constant) and key.value == "type":
                    exempt.add(id(value))
        elif isinstance(node, ast.Subscript) and not (
            isinstance(node.value, ast.Name) and node.value.id == "Literal"
        ):
            if isinstance(node.slice, ast.Constant) and node.slice.value in STATE_KEYS:
                exempt.add(id(node.slice))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in STATE_KEYS
        ):
            exempt.add(id(node.args[0]))
    return exempt


def named_nodes(source: str, names: frozenset[str]) -> list[tuple[int, str]]:
    """(line, name) of every string constant in `source` that names a node."""
    tree = ast.parse(source)
    exempt = _exempt(tree)
    return sorted(
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in names
        and id(node) not in exempt
    )


def test_the_scan_finds_node_names_but_not_state_keys_events_or_docstrings() -> None:
    names = frozenset({"plan", "rescue", "route", END})
    source = '''
"""The plan node: may say `rescue` and "route" here."""
from typing import Literal
def after(state) -> Literal["rescue", "__end__"]:
    """Goes to rescue."""
    return "rescue" if state.get("plan") else END
def node(state):
    emit({"type": "plan", "node": "plan"})
    x = state["route"]
    emit(PlanEvent(type="plan", goal="route"))
    return {"plan": None, "route": {}}
class RouteEvent(TypedDict):
    type: Literal["route"]
    next: Literal["route"]
'''
    found = named_nodes(source, names)
    assert found == [
        (4, "__end__"),
        (4, "rescue"),
        (6, "rescue"),
        (8, "plan"),
        (10, "route"),
        (14, "route"),
    ]


def test_no_node_module_names_a_node() -> None:
    names = node_names()
    found = {
        f"{path.name}:{line}: {name!r}": name
        for path in sorted(NODES_DIR.glob("*.py"))
        for line, name in named_nodes(path.read_text(encoding="utf-8"), names)
    }
    assert not found, "nodes name nodes (routing belongs in graph/edges.py): " + ", ".join(found)


def _imports(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            if node.module == "nodes":
                modules |= {f"nodes.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
    return modules


def test_node_modules_import_helpers_only_never_each_other_or_the_graph() -> None:
    workflow = create_workflow()
    node_modules = {
        (getattr(spec.runnable, "afunc", None) or getattr(spec.runnable, "func", None)).__module__
        for spec in workflow.nodes.values()
    }
    assert "nodes.route" in node_modules and "nodes.swap" in node_modules
    for path in sorted(NODES_DIR.glob("*.py")):
        imported = _imports(path)
        module = f"nodes.{path.stem}"
        assert not {m for m in imported if m == "graph" or m.startswith("graph.")}, path.name
        if module in node_modules:
            assert not (imported & node_modules) - {module}, f"{path.name} imports a node module"
