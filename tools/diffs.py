"""A change to a set of files, and its git-style unified diff (pure: no I/O).

`render_diff` writes what `git diff` writes for the same change, closely enough for
`git apply` and `patch -p1` to take it: `diff --git a/... b/...` headers, `new file mode`
and `deleted file mode` for created and deleted files, `/dev/null` on the missing side,
git's "No newline at end of file" marker where a last line has none, and `Binary files ... differ`
for content that is not UTF-8 text.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

# Lines of context around each change, as git and diff -u show by default.
CONTEXT_LINES = 3
# A NUL byte in this much of a file makes it binary, as git decides.
BINARY_PROBE_BYTES = 8000
NO_NEWLINE = "\\ No newline at end of file\n"

ChangeKind = Literal["created", "modified", "deleted"]


@dataclass(frozen=True)
class FileChange:
    """One file's change: its content before and after (None where it does not exist)."""

    path: str
    """Relative posix path."""
    before: bytes | None
    after: bytes | None
    mode: int
    """Permission bits of the file (after the change; before it, for a deletion)."""

    @property
    def kind(self) -> ChangeKind:
        """Created, modified or deleted."""
        if self.before is None:
            return "created"
        return "deleted" if self.after is None else "modified"


def git_mode(mode: int) -> str:
    """The mode git records for a regular file with these permission bits."""
    return "100755" if mode & 0o111 else "100644"


def is_binary(data: bytes) -> bool:
    """Whether `data` is shown as binary: a NUL byte near the start, or not UTF-8."""
    if b"\0" in data[:BINARY_PROBE_BYTES]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def render_diff(changes: Iterable[FileChange]) -> str:
    """The unified diff of `changes`, one file after another in path order."""
    return "".join(_file_diff(change) for change in sorted(changes, key=lambda c: c.path))


def _file_diff(change: FileChange) -> str:
    old = "/dev/null" if change.before is None else f"a/{change.path}"
    new = "/dev/null" if change.after is None else f"b/{change.path}"
    out = [f"diff --git a/{change.path} b/{change.path}\n"]
    if change.kind == "created":
        out.append(f"new file mode {git_mode(change.mode)}\n")
    elif change.kind == "deleted":
        out.append(f"deleted file mode {git_mode(change.mode)}\n")
    before, after = change.before or b"", change.after or b""
    if before == after:  # an empty file created or deleted: the header says it all
        return "".join(out)
    if is_binary(before) or is_binary(after):
        out.append(f"Binary files {old} and {new} differ\n")
        return "".join(out)
    hunks = difflib.unified_diff(
        lines(before.decode("utf-8")),
        lines(after.decode("utf-8")),
        old,
        new,
        n=CONTEXT_LINES,
    )
    out.extend(_terminated(hunks))
    return "".join(out)


def lines(text: str) -> list[str]:
    """`text` split after each newline only (not at the other breaks `splitlines` knows)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _terminated(hunks: Iterable[str]) -> Sequence[str]:
    """Each diff line ends with a newline; a last line without one gets git's marker."""
    out = []
    for line in hunks:
        if line.endswith("\n"):
            out.append(line)
        else:
            out += [line + "\n", NO_NEWLINE]
    return out
