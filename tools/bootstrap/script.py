"""The bootstrap as one script: its modules joined, for `python -I -c` in the sandbox.

The sandbox's interpreter runs isolated (`-I`) and, in the namespace tiers, without the
application's directory in view, so it cannot import `tools.bootstrap`: it gets the
source instead. `script_source` joins the package's modules in dependency order into one
script, leaving out their docstrings and their imports of each other (one namespace then
holds every name). Anything that would change what the joined script does is refused
with ValueError: an import of the project left in a module, an import of a sibling under
another name, or a name defined at the top of two modules.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = "tools.bootstrap"
# The modules of the script, each after those whose names it uses; the entry point last.
MODULES = (
    "native",
    "landlock",
    "seccomp",
    "privileges",
    "mounts",
    "removal",
    "code_process",
    "supervisor",
    "__main__",
)
HEADER = (
    '"""Orquestra\'s sandbox bootstrap, joined from the modules of tools.bootstrap."""\n\n'
    "from __future__ import annotations\n"
)


@functools.cache
def script_source() -> str:
    """The bootstrap as one standard-library-only script (read once per process).

    Raises:
        ValueError: A module cannot be joined as it is (see the module docstring).
    """
    here = Path(__file__).parent
    defined: dict[str, str] = {}
    parts = [HEADER]
    for module in MODULES:
        source = (here / f"{module}.py").read_text(encoding="utf-8")
        parts.append(_joinable(module, source, defined))
    return "\n\n".join(parts)


def _joinable(module: str, source: str, defined: dict[str, str]) -> str:
    """`source` without its docstring, `__future__` import and imports of siblings."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(_project(a.name) for a in node.names):
            raise ValueError(f"{PACKAGE}.{module}: the script cannot import the project")
        if isinstance(node, ast.ImportFrom) and _project(node.module or ""):
            if node not in tree.body or not (node.module or "").startswith(PACKAGE + "."):
                raise ValueError(f"{PACKAGE}.{module}: the script cannot import the project")
            if any(alias.asname for alias in node.names):
                raise ValueError(f"{PACKAGE}.{module}: siblings' names are joined as they are")
    dropped: set[int] = set()
    for index, node in enumerate(tree.body):
        docstring = (
            index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        )
        future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        sibling = isinstance(node, ast.ImportFrom) and _project(node.module or "")
        if docstring or future or sibling:
            dropped.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
            continue
        for name in _names(node):
            if defined.setdefault(name, module) != module:
                raise ValueError(f"{name!r} is defined in both {defined[name]} and {module}")
    lines = source.splitlines()
    kept = [line for number, line in enumerate(lines, 1) if number not in dropped]
    return f"# --- {module} ---\n" + "\n".join(kept).strip("\n") + "\n"


def _project(module: str) -> bool:
    return module == "tools" or module.startswith("tools.")


def _names(node: ast.stmt) -> list[str]:
    """The names a top-level statement defines (functions, classes, assignments)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AnnAssign | ast.AugAssign):
        targets = [node.target]
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
