"""What a refactoring request asks to be present afterwards, and whether it is (pure).

Tests that still pass say a refactor kept the behaviour; they cannot say it happened. A
request that renames, moves or extracts names what it wants (`parse` to `parse_line`, `f`
into `helpers.py`, a helper `scan` called from `grade`), and `asked_refactor` reads that
from the request and the names the project defines before the change; `missing` reads the
project after it with `ast` and lists what is not there, in words the next attempt is
shown. Names are taken from backticks when the request has them (else from its words),
and told apart by the project itself: an old name is one the project defines, a new name
one it does not.
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

RefactorKind = Literal["rename", "move", "extract"]

# The verb that says which refactor is asked (the first one in the request wins).
_VERBS: tuple[tuple[RefactorKind, str], ...] = (
    ("rename", r"renam\w*|renome\w*|renombr\w*"),
    ("move", r"move|moving|split\w*|mova|mover|mueve|divid\w*|separ\w*"),
    ("extract", r"extract\w*|extrai\w*|extrae\w*"),
)
_VERB = re.compile(
    "|".join(rf"(?P<{kind}>\b(?:{words})\b)" for kind, words in _VERBS), re.IGNORECASE
)
_TICKED = re.compile(r"`([^`\n]+)`")
_WORD = re.compile(r"\b[A-Za-z_]\w*\b")
_MODULE_FILE = re.compile(r"(?<![\w/.-])([\w/-]+\.py)\b")
# The word before a rename's new name, and before an extracted helper's name.
_TO = r"\b(?:to|into|as|para|pra|como|a|en|por)\b"
_NAMED = re.compile(
    r"\b(?:named|called|chamad\w*|nomead\w*|llamad\w*|denominad\w*)\s+`?([A-Za-z_]\w*)",
    re.IGNORECASE,
)
# Words that ask the extracted helper to hold a loop or a branch.
_LOOP = re.compile(r"\b(loop|for|while|laço|bucle|ciclo)\b", re.IGNORECASE)
_BRANCH = re.compile(r"\b(branch|if|condicional|rama|ramo)\b", re.IGNORECASE)


@dataclass(frozen=True)
class RefactorAsk:
    """A structural change a request asks for."""

    kind: RefactorKind
    old: tuple[str, ...]
    """Names the project defines that the change is about (renamed, moved, extracted from)."""
    new: str = ""
    """The new name (rename, extract), or the module file moved into (move)."""
    holds: str = ""
    """What an extracted helper must hold: "loop", "branch" or "" (anything)."""

    def as_dict(self) -> dict[str, object]:
        """Plain data, for the graph's state."""
        return {"kind": self.kind, "old": list(self.old), "new": self.new, "holds": self.holds}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> RefactorAsk | None:
        """The ask `as_dict` wrote (None for anything else)."""
        kind, old = data.get("kind"), data.get("old")
        if kind not in ("rename", "move", "extract") or not isinstance(old, list):
            return None
        return cls(kind, tuple(map(str, old)), str(data.get("new", "")), str(data.get("holds", "")))


def defined_names(files: Mapping[str, str]) -> dict[str, set[str]]:
    """Each parsable Python file's top-level functions and classes."""
    names: dict[str, set[str]] = {}
    for path, text in files.items():
        tree = _parse(path, text)
        if tree is not None:
            names[path] = {
                node.name
                for node in tree.body
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            }
    return names


def asked_refactor(request: str, files: Mapping[str, str]) -> RefactorAsk | None:
    """The rename, move or extraction `request` asks of the project in `files`, or None."""
    verb = _VERB.search(request)
    if verb is None or verb.lastgroup is None:
        return None
    kind: RefactorKind = verb.lastgroup  # type: ignore[assignment]
    rest = request[verb.end() :]
    known = set().union(*defined_names(files).values()) if files else set()
    words = _names_in(rest)
    old = tuple(dict.fromkeys(w for w in words if w in known))
    fresh = [w for w in words if w not in known and not keyword.iskeyword(w)]
    if kind == "move":
        sources = {p for p, names in defined_names(files).items() if names & set(old)}
        target = [m for m in _MODULE_FILE.findall(rest) if m not in sources]
        return RefactorAsk("move", old, target[-1]) if old and target else None
    if not old or not fresh:
        return None
    if kind == "rename":
        to = re.search(rf"\b{re.escape(old[0])}\b`?.*?{_TO}\s+`?([A-Za-z_]\w*)", rest)
        new = to.group(1) if to and to.group(1) not in known else fresh[0]
        return RefactorAsk("rename", old[:1], new)
    named = _NAMED.search(rest)
    new = named.group(1) if named and named.group(1) not in known else fresh[0]
    holds = "loop" if _LOOP.search(rest) else "branch" if _BRANCH.search(rest) else ""
    return RefactorAsk("extract", old[:1], new, holds)


def missing(ask: RefactorAsk, before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """What the change asked for that the project `after` lacks ([] when it is all there)."""
    trees = {p: t for p, text in after.items() if (t := _parse(p, text)) is not None}
    defined = {p: _top_level(t) for p, t in trees.items()}
    if ask.kind == "rename":
        return _missing_rename(ask, trees, defined)
    if ask.kind == "move":
        return _missing_move(ask, before, trees, defined)
    return _missing_extract(ask, defined)


def _missing_rename(
    ask: RefactorAsk, trees: Mapping[str, ast.Module], defined: Mapping[str, dict[str, ast.stmt]]
) -> list[str]:
    old, new = ask.old[0], ask.new
    problems = []
    if not any(new in names for names in defined.values()):
        problems.append(f"no file defines `{new}`")
    if any(old in names for names in defined.values()):
        problems.append(f"`{old}` is still defined")
    still = sorted(p for p, tree in trees.items() if old in _used(tree))
    if still:
        problems.append(f"`{old}` is still used in {', '.join(still)}")
    return problems


def _missing_move(
    ask: RefactorAsk,
    before: Mapping[str, str],
    trees: Mapping[str, ast.Module],
    defined: Mapping[str, dict[str, ast.stmt]],
) -> list[str]:
    target, module = ask.new, ask.new.removesuffix(".py").replace("/", ".")
    if target not in defined:
        return [f"{target} is missing or does not parse"]
    problems = [f"{target} does not define `{n}`" for n in ask.old if n not in defined[target]]
    for path, tree in trees.items():
        if path == target:
            continue
        kept = [n for n in ask.old if n in defined[path]]
        problems += [f"{path} still defines `{n}`" for n in kept]
        source = defined_names({path: before.get(path, "")}).get(path, set())
        needs = set(ask.old) & source & _used(tree)
        if needs and module not in _imported_modules(tree):
            problems.append(f"{path} uses {', '.join(sorted(needs))} but does not import {module}")
    return problems


def _missing_extract(ask: RefactorAsk, defined: Mapping[str, dict[str, ast.stmt]]) -> list[str]:
    caller, helper = ask.old[0], ask.new
    where = [names for names in defined.values() if helper in names]
    if not where:
        return [f"no file defines a function `{helper}`"]
    problems = []
    callers = [names[caller] for names in defined.values() if caller in names]
    if not callers:
        problems.append(f"`{caller}` is gone")
    elif not any(helper in _called(node) for node in callers):
        problems.append(f"`{caller}` does not call `{helper}`")
    body = where[0][helper]
    wanted = {"loop": (ast.For, ast.While), "branch": (ast.If,)}.get(ask.holds, ())
    if wanted and not any(isinstance(n, wanted) for n in ast.walk(body)):
        problems.append(f"`{helper}` holds no {ask.holds}")
    return problems


def _names_in(text: str) -> list[str]:
    """The identifiers `text` names: in backticks when it has any, else every word."""
    ticked = [t.strip().removesuffix("()") for t in _TICKED.findall(text)]
    words = [t for t in ticked if t.isidentifier()] if ticked else _WORD.findall(text)
    return list(dict.fromkeys(words))


def _parse(path: str, text: str) -> ast.Module | None:
    if not path.endswith(".py"):
        return None
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _top_level(tree: ast.Module) -> dict[str, ast.stmt]:
    return {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def _used(tree: ast.AST) -> set[str]:
    """Names a module reads or imports (not the ones it only defines)."""
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    used |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            used |= {alias.name for alias in node.names}
    return used


def _imported_modules(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.lstrip("."))
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def _called(node: ast.AST) -> set[str]:
    return {
        n.func.id
        for n in ast.walk(node)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
