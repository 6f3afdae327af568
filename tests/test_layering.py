"""The import order is a fact, not a hope: runtime and tools <- nodes <- graph <- app.

The runtime (`orquestra`) and the sandbox's tools (`tools`) stand side by side: neither
imports the other, and the nodes are where the two meet.

Every module of the project is read (with `ast`, so no import runs) for what it imports:
`import x`, `from x import y`, relative imports, and the dynamic ways round the rule
(`importlib.import_module`, `__import__`, `runpy`, `importlib.util.spec_from_file_location`)
with a constant name; a dynamic import whose name is not a constant fails outright, since
nobody could check it. Then fresh interpreters prove that importing a layer loads nothing
above it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("orquestra", "tools", "nodes", "graph")
# Low to high: a module may import its own layer and the layers before it...
LAYERS = ("runtime", "tools", "nodes", "graph", "app")
# ...except that the tools, a sandbox any program could use, know nothing of the runtime:
# whoever runs code (the nodes) counts the run in `orquestra.telemetry`.
SIDE_BY_SIDE = {"tools": "runtime"}
# The pure policy may import only these of the project, and no I/O or concurrency at all.
POLICY_MAY_IMPORT = ("orquestra.policy", "orquestra.settings", "orquestra.errors")
POLICY_FORBIDDEN = ("asyncio", "threading", "socket", "httpx", "ollama", "subprocess", "time")
DYNAMIC_IMPORTS = {
    "import_module",
    "__import__",
    "run_module",
    "run_path",
    "spec_from_file_location",
}
# A size is a gauge, not a rule: a module past SPLIT_GAUGE_LINES is worth a look for a
# second subject inside, and only then split, by subject (see docs/style.md). One subject
# is never cut in two, nor given mixins or re-export shims, to make a number fit; only a
# module past MAX_MODULE_LINES fails, since one subject that long is rare.
SPLIT_GAUGE_LINES = 300
MAX_MODULE_LINES = 600


class LongModuleWarning(UserWarning):
    """A module is past the size gauge: look for a second subject inside it."""


@dataclass(frozen=True)
class Imported:
    """One import found in a module's source."""

    name: str
    line: int
    lazy: bool
    """Inside a function body or under `if TYPE_CHECKING:` (not run at module import)."""


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(name: str) -> str | None:
    """The layer a project module belongs to; None for third-party and standard modules."""
    top = name.split(".")[0]
    if top not in PACKAGES:
        return None
    if top == "orquestra":
        return "app" if name == "orquestra.app" or name.startswith("orquestra.app.") else "runtime"
    return top


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(source: str, module: str, *, is_package: bool = False) -> list[Imported]:
    """Every import in `source`, dynamic ones included; raises on an unreadable dynamic one."""
    tree = ast.parse(source)
    lazy_nodes: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lazy_nodes.update(id(n) for n in ast.walk(node) if n is not node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            lazy_nodes.update(id(n) for n in ast.walk(node) if n is not node)
    found: list[Imported] = []
    for node in ast.walk(tree):
        lazy = id(node) in lazy_nodes
        if isinstance(node, ast.Import):
            found += [Imported(a.name, node.lineno, lazy) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, module, is_package)
            found.append(Imported(base, node.lineno, lazy))
            # `from orquestra import app` imports the module orquestra.app
            found += [Imported(f"{base}.{a.name}", node.lineno, lazy) for a in node.names]
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called not in DYNAMIC_IMPORTS:
                continue
            target = node.args[0] if node.args else None
            if not (isinstance(target, ast.Constant) and isinstance(target.value, str)):
                raise ValueError(
                    f"{module}:{node.lineno}: {called}() with a name that is not a constant "
                    "cannot be checked against the layering; import the module by name"
                )
            found.append(Imported(target.value, node.lineno, lazy))
    return found


def project_modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def violations_in(path: Path, root: Path = ROOT) -> list[str]:
    module = module_name(path, root)
    found = imports_of(path.read_text(encoding="utf-8"), module, is_package=path.stem == "__init__")
    problems: list[str] = []
    own = layer_of(module)
    assert own is not None
    for imported in found:
        layer = layer_of(imported.name)
        where = f"{path.relative_to(root)}:{imported.line} imports {imported.name}"
        if module == "orquestra":
            # The package's public names: the runtime's at import time; the shell's
            # commander only on first use (PEP 562 `__getattr__`), so importing any
            # runtime module never loads the workflow.
            if layer not in (None, "runtime") and not imported.lazy:
                problems.append(f"{where} at import time (load the shell lazily)")
            continue
        if layer is not None and LAYERS.index(layer) > LAYERS.index(own):
            problems.append(f"{where}: {own} may not import {layer}")
        if layer is not None and SIDE_BY_SIDE.get(own) == layer:
            problems.append(f"{where}: {own} may not import {layer} (they stand side by side)")
        if module.startswith("orquestra.policy"):
            project = layer is not None
            if project and not imported.name.startswith(POLICY_MAY_IMPORT):
                problems.append(f"{where}: the policy is pure (settings and errors only)")
            if imported.name.split(".")[0] in POLICY_FORBIDDEN:
                problems.append(f"{where}: the policy does no I/O and no concurrency")
        if module.startswith("orquestra.backends") and imported.name.startswith(
            ("orquestra.manager", "orquestra.scheduler", "orquestra.runtime", "orquestra.policy")
        ):
            problems.append(f"{where}: backends know nothing of the scheduler above them")
    return problems


def test_every_import_follows_the_layering() -> None:
    problems = [p for path in project_modules() for p in violations_in(path)]
    assert problems == []


def module_lengths() -> dict[str, int]:
    """Lines of every module of the project and of the bench scripts."""
    return {
        str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
        for root in [*PACKAGES, "bench"]
        for p in sorted((ROOT / root).rglob("*.py"))
    }


def test_a_long_module_is_worth_a_look_and_only_a_very_long_one_fails() -> None:
    lengths = module_lengths()
    for path, n in lengths.items():
        if n > SPLIT_GAUGE_LINES:
            warnings.warn(
                f"{path} has {n} lines (gauge {SPLIT_GAUGE_LINES}): is there a second "
                "subject inside? Split by subject, never by count.",
                LongModuleWarning,
                stacklevel=1,
            )
    assert {path: n for path, n in lengths.items() if n > MAX_MODULE_LINES} == {}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import graph.workflow", "graph.workflow"),
        ("from nodes import context", "nodes.context"),
        ("import importlib\nimportlib.import_module('graph.workflow')", "graph.workflow"),
        ("from importlib import import_module\nimport_module('nodes.plan')", "nodes.plan"),
        ("__import__('orquestra.app.cli')", "orquestra.app.cli"),
        ("import runpy\nrunpy.run_module('graph')", "graph"),
        ("from .. import app", "orquestra.app"),
    ],
)
def test_the_checker_sees_every_way_of_importing(source: str, expected: str) -> None:
    names = {i.name for i in imports_of(source, "orquestra.scheduler.leases")}
    assert expected in names


def test_the_checker_refuses_an_import_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="not a constant"):
        imports_of("import importlib\nname = 'graph'\nimportlib.import_module(name)", "tools.x")


def test_the_checker_flags_an_upward_import(tmp_path: Path) -> None:
    found = imports_of("import importlib\nimportlib.import_module('graph.workflow')", "tools.x")
    assert [layer_of(i.name) for i in found] == [None, "graph"]
    assert LAYERS.index("graph") > LAYERS.index("tools")


def test_the_checker_flags_the_tools_importing_the_runtime(tmp_path: Path) -> None:
    (tmp_path / "tools").mkdir()
    module = tmp_path / "tools" / "x.py"
    module.write_text("from orquestra.telemetry import record_code_run\n", encoding="utf-8")
    problems = violations_in(module, root=tmp_path)
    assert problems and all("tools may not import runtime" in p for p in problems)


def _loaded_after(statement: str) -> set[str]:
    code = (
        f"import sys\n{statement}\n"
        "print(' '.join(sorted({m.split('.')[0] if not m.startswith('orquestra.app') "
        "else 'orquestra.app' for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(done.stdout.split())


@pytest.mark.parametrize(
    ("statement", "above"),
    [
        (
            "import orquestra, orquestra.manager, orquestra.runtime, orquestra.router",
            {"orquestra.app", "graph", "nodes", "tools"},
        ),
        (
            "import tools.sandbox, tools.checks, tools.code_tool",
            {"orquestra", "orquestra.app", "graph", "nodes"},
        ),
        ("import nodes.route, nodes.execute, nodes.reflect", {"orquestra.app", "graph"}),
        ("import graph.workflow", {"orquestra.app"}),
    ],
)
def test_importing_a_layer_loads_nothing_above_it(statement: str, above: set[str]) -> None:
    assert _loaded_after(statement) & above == set()


def test_the_commander_is_there_when_named() -> None:
    loaded = _loaded_after("import orquestra\norquestra.create_smart_commander")
    assert {"orquestra.app", "graph", "nodes"} <= loaded
