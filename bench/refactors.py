"""Refactors of a project's module, and the `ast` check of each (pure).

- extract_helper: "extract the loop (or branch) at line N of f into a function named X":
  X is defined at the top of solution.py, f calls it, X holds a loop (branch) of that kind
  and f holds fewer of them than before;
- rename: "rename f to g and update its uses": g is defined and used, f appears nowhere
  (the tests' uses of f change too: `bench/workspace_tasks.py` allows that, and only that);
- split_module: "move f (the module's helpers, else the entry point) into helpers.py
  and import it": helpers.py defines it, solution.py no longer does and imports from it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from mutator_source import body_of, entry_function
from workspace_project import MODULE, Project, top_level_functions

HELPERS = "helpers.py"
REFACTOR_KINDS = ("extract_helper", "rename", "split_module")
# How a rename reads: a prefix swapped for a synonym, else `compute_` put before the name.
SYNONYM_PREFIXES = {
    "is_": "check_",
    "has_": "contains_",
    "get_": "fetch_",
    "find_": "search_",
    "count_": "tally_",
    "make_": "build_",
    "sort_": "order_",
    "remove_": "drop_",
    "filter_": "select_",
    "sum_": "total_",
    "encode_": "encipher_",
    "decode_": "decipher_",
    "parse_": "read_",
    "all_": "every_",
    "string_": "text_",
    "below_": "under_",
}


@dataclass(frozen=True)
class Refactor:
    """One refactor of a module: what is asked, and what its `ast` check looks for."""

    kind: str
    request: str
    function: str
    """The function refactored: extracted from, renamed, or (the first one) moved."""
    new_name: str = ""
    """The helper's name (extract_helper) or the function's new name (rename)."""
    moved: tuple[str, ...] = ()
    statement: str = ""
    """The kind of statement extracted: For, While or If."""


def renamed(name: str) -> str:
    for prefix, synonym in SYNONYM_PREFIXES.items():
        if name.startswith(prefix):
            return synonym + name.removeprefix(prefix)
    return f"compute_{name}"


def _extractable(function: ast.FunctionDef) -> ast.stmt | None:
    """The function's first loop, else its first branch that neither returns nor breaks."""
    body = body_of(function)
    for statement in body:
        if isinstance(statement, ast.For | ast.While):
            return statement
    for statement in body:
        jumps = (ast.Return, ast.Break, ast.Continue, ast.Raise)
        if isinstance(statement, ast.If) and not any(
            isinstance(n, jumps) for n in ast.walk(statement)
        ):
            return statement
    return None


def _helper_name(statement: ast.stmt, taken: set[str]) -> str:
    if isinstance(statement, ast.While):  # named for what it advances
        probe: ast.AST = ast.Module([*statement.body], [])
        kinds: tuple[type[ast.AST], ...] = (ast.Assign, ast.AugAssign)
        written = [t for n in ast.walk(probe) if isinstance(n, kinds) for t in _targets_of(n)]
        names = [n.id for t in written for n in ast.walk(t) if isinstance(n, ast.Name)]
    else:
        probe = statement.iter if isinstance(statement, ast.For) else statement.test  # type: ignore[attr-defined]
        skip = {"range", "len", "enumerate", "zip", "reversed", "sorted"}
        names = [n.id for n in ast.walk(probe) if isinstance(n, ast.Name) and n.id not in skip]
    verb = {"For": "scan", "While": "advance", "If": "handle"}[type(statement).__name__]
    if not names and isinstance(statement, ast.For):  # `for i in range(...)`
        verb, names = (
            "loop_over",
            [n.id for n in ast.walk(statement.target) if isinstance(n, ast.Name)],
        )
    name = f"{verb}_{names[0]}" if names else f"{verb}_step"
    while name in taken:
        name += "_helper"
    return name


def _targets_of(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return list(node.targets)
    return [node.target] if isinstance(node, ast.AugAssign) else []


def refactors(project: Project) -> list[Refactor]:
    """Every refactor this module allows, in the order of REFACTOR_KINDS."""
    module, entry = project.module, project.entry_point
    function = entry_function(ast.parse(module), entry)
    functions = top_level_functions(module)
    found: list[Refactor] = []
    statement = _extractable(function)
    if statement is not None:
        kind = type(statement).__name__
        what = "branch" if kind == "If" else "loop"
        head = module.splitlines()[statement.lineno - 1].strip()
        helper = _helper_name(statement, set(functions))
        request = (
            f"In solution.py, extract the `{kind.lower()}` {what} of `{entry}` that starts at "
            f"line {statement.lineno} (`{head}`) into a new top-level function named "
            f"`{helper}`, and call `{helper}` from `{entry}` in its place. The behaviour must "
            "stay the same: the tests in test_solution.py must still pass."
        )
        found.append(Refactor("extract_helper", request, entry, helper, statement=kind))
    others = [f for f in functions if f != entry]
    target = next((f for f in others if _calls(function, f)), entry)
    new = renamed(target)
    request = (
        f"Rename the function `{target}` of solution.py to `{new}` and update every use of it "
        "in the project."
    )
    found.append(Refactor("rename", request, target, new))
    moved = tuple(others) or (entry,)
    names = ", ".join(f"`{m}`" for m in moved)
    request = (
        f"Split the module: move {names} from solution.py into a new module helpers.py, and "
        "import what solution.py needs from helpers (the tests keep importing from solution)."
    )
    found.append(Refactor("split_module", request, moved[0], moved=moved))
    return found


def _calls(function: ast.AST, name: str) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name
        for n in ast.walk(function)
    )


def _defined(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def _count(node: ast.AST, kind: str) -> int:
    return sum(type(n).__name__ == kind for n in ast.walk(node))


def _identifiers(tree: ast.AST) -> set[str]:
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.alias)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    return names


def refactor_problems(refactor: Refactor, before: str, files: dict[str, str]) -> list[str]:
    """What the refactored files lack ([] when the refactor's check holds)."""
    try:
        module = ast.parse(files.get(MODULE, ""))
    except SyntaxError:
        return ["solution.py does not parse"]
    defined = _defined(module)
    if refactor.kind == "extract_helper":
        helper, old = defined.get(refactor.new_name), defined.get(refactor.function)
        if helper is None or old is None:
            return [f"solution.py does not define both {refactor.function} and {refactor.new_name}"]
        problems = []
        if not _calls(old, refactor.new_name):
            problems.append(f"{refactor.function} does not call {refactor.new_name}")
        if not _count(helper, refactor.statement):
            problems.append(f"{refactor.new_name} holds no {refactor.statement}")
        original = entry_function(ast.parse(before), refactor.function)
        if _count(old, refactor.statement) >= _count(original, refactor.statement):
            problems.append(f"{refactor.function} still holds its {refactor.statement}")
        return problems
    if refactor.kind == "rename":
        others = [parsed(files[n]) for n in files if n != MODULE and n.endswith(".py")]
        trees = [module, *(t for t in others if t is not None)]
        problems = []
        if refactor.new_name not in defined:
            problems.append(f"solution.py does not define {refactor.new_name}")
        if any(refactor.function in _identifiers(t) for t in trees):
            problems.append(f"{refactor.function} is still there")
        used = [n for t in trees for n in ast.walk(t) if isinstance(n, ast.Name | ast.alias)]
        if not any(getattr(n, "id", getattr(n, "name", "")) == refactor.new_name for n in used):
            problems.append(f"{refactor.new_name} is never used")
        return problems
    helpers = parsed(files.get(HELPERS, ""))
    if HELPERS not in files or helpers is None:
        return ["helpers.py is missing or does not parse"]
    problems = [
        f"helpers.py does not define {m}" for m in refactor.moved if m not in _defined(helpers)
    ]
    problems += [f"solution.py still defines {m}" for m in refactor.moved if m in defined]
    imported = {
        a.asname or a.name
        for n in module.body
        if isinstance(n, ast.ImportFrom) and n.module == "helpers"
        for a in n.names
    }
    if not imported and not any(
        isinstance(n, ast.Import) and any(a.name == "helpers" for a in n.names) for n in module.body
    ):
        problems.append("solution.py does not import from helpers")
    return problems


def parsed(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except SyntaxError:
        return None
