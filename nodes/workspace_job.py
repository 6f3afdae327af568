"""What a request asks of the user's own code: a fix or a refactor, and which files (pure).

A request is a workspace job when a workspace is set and the request both asks to fix
(fix, debug, a failing test, a bug) or to restructure (refactor, rename, split, extract,
move) and names something in the workspace: a file (`parser.py`, `tests/test_parser.py`)
or a test (`test_parse_empty`, `tests/test_parser.py::test_parse_empty`). Such a request
goes to the code path with the workspace (`nodes.workspace_step`): the brain drafts the
change, the executor repairs it from the project's tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

JobKind = Literal["fix", "refactor"]

# Words that ask for a fix or for a restructuring, in the languages the router knows.
FIX_WORDS = (
    r"fix|fixes|debug|bug|bugs|broken|fails?|failing|failure|error|crash(es)?|"
    r"corrij\w*|corrig\w*|consert\w*|arregl\w*|falh\w*|fall\w*|erro\w*"
)
REFACTOR_WORDS = (
    r"refactor\w*|rename\w*|split\w*|extract\w*|move|moving|restructur\w*|clean\s+up|"
    r"refator\w*|renome\w*|divid\w*|extrai\w*|extrae\w*|mova|mover|renombr\w*|separ\w*"
)
_FIX = re.compile(rf"\b({FIX_WORDS})\b", re.IGNORECASE)
_REFACTOR = re.compile(rf"\b({REFACTOR_WORDS})\b", re.IGNORECASE)
# A test id (pytest's node id, or a bare test function's name).
_TEST_ID = re.compile(r"(?<![\w/.-])(?:[\w./-]+\.py::)?test_\w+(?![\w/-]|\.\w)")


@dataclass(frozen=True)
class WorkspaceJob:
    """A request to change the user's code."""

    kind: JobKind
    files: tuple[str, ...]
    """Workspace files the request names (relative paths)."""
    tests: tuple[str, ...]
    """Tests the request names (pytest node ids or function names)."""

    def as_dict(self) -> dict[str, object]:
        """Plain data, for the graph's state."""
        return {"kind": self.kind, "files": list(self.files), "tests": list(self.tests)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> WorkspaceJob:
        """The job `as_dict` wrote."""
        kind: JobKind = "refactor" if data.get("kind") == "refactor" else "fix"
        files = data.get("files")
        tests = data.get("tests")
        return cls(
            kind,
            tuple(str(f) for f in files) if isinstance(files, list) else (),
            tuple(str(t) for t in tests) if isinstance(tests, list) else (),
        )


def workspace_job(text: str, workspace_files: Iterable[str]) -> WorkspaceJob | None:
    """The job `text` asks for in a workspace holding `workspace_files`, or None."""
    named = _named_files(text, workspace_files)
    tests = tuple(dict.fromkeys(m.group(0) for m in _TEST_ID.finditer(text)))
    if not named and not tests:
        return None
    fix, refactor = _FIX.search(text), _REFACTOR.search(text)
    if refactor and (fix is None or refactor.start() < fix.start()):  # the first verb asks
        return WorkspaceJob("refactor", named, tests)
    if fix:
        return WorkspaceJob("fix", named, tests)
    return None


def _named_files(text: str, workspace_files: Iterable[str]) -> tuple[str, ...]:
    """Workspace files `text` names, by path or by bare name (when the name is unique)."""
    files = sorted(set(workspace_files))
    by_name: dict[str, list[str]] = {}
    for path in files:
        by_name.setdefault(path.rsplit("/", 1)[-1], []).append(path)
    found: list[str] = []
    for path in files:
        if re.search(rf"(?<![\w/.-]){re.escape(path)}(?![\w/-])", text):
            found.append(path)
    for name, paths in by_name.items():
        unique = len(paths) == 1 and paths[0] not in found
        if unique and re.search(rf"(?<![\w/.-]){re.escape(name)}(?![\w/-])", text):
            found.append(paths[0])
    return tuple(found)
