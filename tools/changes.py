"""What a run changed in its workspace copy: the diff, and writing it to the user's files.

`unified_diff` compares the copy with the files as they were read (`WorkspaceCopy.base`),
not with the source as it is now, so a file the user edits meanwhile never shows up as
the run's change. `aapply` is the one thing that writes to the user's workspace, and only
when called. It first reads, without following symlinks, what the source holds now at
every path the change touches, and decides (`plan_apply`, pure) whether each file is as
the copy found it; if any is not (edited, deleted or created since, or a symlink, or
behind one), it refuses and writes nothing, naming the files. A file that already holds
exactly the change is left alone. Then each file is written atomically (a temporary file
in the same directory, renamed over it) keeping its mode and owner, after checking it
once more right before. In a git repository it answers with `git diff` of those paths
(new files included, the index untouched; `tools.git_diff`), else with its own diff.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from tools.diffs import FileChange, render_diff
from tools.git_diff import agit_diff
from tools.safe_paths import MissingPath, directory, kind_of, read_regular, write_atomic
from tools.workspace import WorkspaceError
from tools.workspace_copy import FileStamp, WorkspaceCopy, writable_parts
from tools.workspace_files import MAX_FILE_BYTES, tree_files

SourceKind = Literal["missing", "file", "symlink", "other", "blocked"]


@dataclass(frozen=True)
class ApplyResult:
    """What `aapply` wrote to the user's workspace."""

    applied: tuple[str, ...]
    """The relative paths written or deleted, in order."""
    shown: str
    """`git diff` of those paths in a git repository, else the unified diff."""


@dataclass(frozen=True)
class SourceFile:
    """What the source holds at a path the change touches, as read before writing."""

    kind: SourceKind
    sha256: str | None = None
    mode: int = 0
    owner: tuple[int, int] | None = None
    note: str = ""
    """Why the path cannot be reached (`blocked`: a symlink or a file on the way)."""


def changes_of(copy: WorkspaceCopy) -> tuple[FileChange, ...]:
    """Every file the copy created, modified or deleted since it was taken. Blocking."""
    current = dict(tree_files(copy.root))
    changes = []
    for path, found in current.items():
        stamp = copy.stamps.get(path)
        if stamp is None:
            changes.append(FileChange(path, None, found.data, found.mode))
        elif found.sha256 != stamp.sha256:
            changes.append(FileChange(path, _base(copy, path), found.data, found.mode))
    for path in sorted(copy.stamps.keys() - current.keys()):
        changes.append(FileChange(path, _base(copy, path), None, _base_mode(copy, path)))
    return tuple(sorted(changes, key=lambda change: change.path))


def unified_diff(copy: WorkspaceCopy) -> str:
    """The copy against the source as it was read, git-style (new and deleted files too).

    Blocking (it reads both trees): `aunified_diff` in async code.
    """
    return render_diff(changes_of(copy))


async def aunified_diff(copy: WorkspaceCopy) -> str:
    """`unified_diff` without blocking the event loop."""
    return await asyncio.to_thread(unified_diff, copy)


def plan_apply(
    changes: Sequence[FileChange],
    stamps: Mapping[str, FileStamp],
    source: Mapping[str, SourceFile],
) -> tuple[tuple[FileChange, ...], tuple[str, ...]]:
    """Which changes to write, and every conflict that forbids writing any (pure).

    A change conflicts when its path is a symlink, not a regular file or behind one in
    the source, or when the source file is neither as the copy found it nor already
    what the change makes it. Changes whose result is already in place are not written.
    """
    writes: list[FileChange] = []
    conflicts: list[str] = []
    for change in changes:
        now = source[change.path]
        problem = _conflict(change, stamps.get(change.path), now)
        if problem:
            conflicts.append(f"{change.path} {problem}")
        elif not _in_place(change, now):
            writes.append(change)
    return tuple(writes), tuple(conflicts)


def _conflict(change: FileChange, stamp: FileStamp | None, now: SourceFile) -> str:
    if now.kind == "blocked":
        return f"cannot be reached in the source ({now.note})"
    if now.kind == "symlink":
        return "is a symlink in the source: refused (symlinks are not followed)"
    if now.kind == "other":
        return "is not a regular file in the source"
    if _in_place(change, now):
        return ""
    if change.kind == "created":
        return "was created in the source since the copy was taken" if now.kind == "file" else ""
    if now.kind == "missing":
        return "was deleted in the source since the copy was taken"
    if stamp is None or now.sha256 != stamp.sha256:
        return "was changed in the source since the copy was taken"
    return ""


def _in_place(change: FileChange, now: SourceFile) -> bool:
    if change.after is None:
        return now.kind == "missing"
    return now.kind == "file" and now.sha256 == _sha256(change.after)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def aapply(copy: WorkspaceCopy) -> ApplyResult:
    """Write the copy's changes to `copy.source` (see the module docstring).

    Raises:
        WorkspaceError: A file the change touches changed in the source since the copy
            was taken, or is a symlink (the message names every such file); nothing was
            written. Or a file changed while applying (the message says what was written).
    """
    changes = await asyncio.to_thread(changes_of, copy)
    source = await asyncio.to_thread(_read_source, copy, changes)
    writes, conflicts = plan_apply(changes, copy.stamps, source)
    if conflicts:
        raise WorkspaceError(
            "the change was not applied, nothing was written: "
            + "; ".join(conflicts)
            + ". Take a new copy of the workspace and make the change again."
        )
    applied = await asyncio.to_thread(_write, copy, writes, source)
    created = [change.path for change in writes if change.kind == "created"]
    shown = await agit_diff(copy.source, applied, created) if applied else ""
    return ApplyResult(applied, shown or render_diff(writes))


def _base(copy: WorkspaceCopy, path: str) -> bytes:
    parts = writable_parts(copy, path)
    with directory(copy.base, parts[:-1]) as fd:
        found = read_regular(fd, parts[-1], label=path)
    if found is None:
        raise WorkspaceError(f"{path!r} is missing from the copy's record of the source")
    return found.data


def _base_mode(copy: WorkspaceCopy, path: str) -> int:
    parts = writable_parts(copy, path)
    with directory(copy.base, parts[:-1]) as fd:
        return os.stat(parts[-1], dir_fd=fd, follow_symlinks=False).st_mode & 0o777


def _read_source(copy: WorkspaceCopy, changes: Sequence[FileChange]) -> dict[str, SourceFile]:
    found = {}
    for change in changes:
        parts = writable_parts(copy, change.path)
        try:
            with directory(copy.source, parts[:-1]) as fd:
                found[change.path] = _source_file(fd, parts[-1], change.path)
        except MissingPath:
            found[change.path] = SourceFile("missing")
        except WorkspaceError as exc:
            found[change.path] = SourceFile("blocked", note=str(exc))
    return found


def _source_file(dir_fd: int, name: str, path: str) -> SourceFile:
    kind = kind_of(dir_fd, name)
    if kind != "file":
        return SourceFile(kind)
    found = read_regular(dir_fd, name, MAX_FILE_BYTES, label=path)
    if found is None:
        return SourceFile("missing")
    return SourceFile("file", found.sha256, found.mode, (found.uid, found.gid))


def _write(
    copy: WorkspaceCopy, writes: Sequence[FileChange], planned: Mapping[str, SourceFile]
) -> tuple[str, ...]:
    applied: list[str] = []
    for change in writes:
        parts = writable_parts(copy, change.path)
        with directory(copy.source, parts[:-1], create=change.kind == "created") as fd:
            now = _source_file(fd, parts[-1], change.path)
            expected = planned[change.path]
            if (now.kind, now.sha256) != (expected.kind, expected.sha256):
                done = ", ".join(applied) or "nothing"
                raise WorkspaceError(
                    f"{change.path} changed in the source while the change was being applied: "
                    f"stopped (already written: {done})"
                )
            if change.after is None:
                os.unlink(parts[-1], dir_fd=fd)
            elif change.kind == "modified":
                write_atomic(fd, parts[-1], change.after, now.mode, now.owner)
            else:  # a new file belongs to whoever owns its directory (root editing for a user)
                info = os.fstat(fd)
                owner = (info.st_uid, info.st_gid)
                write_atomic(fd, parts[-1], change.after, change.mode & 0o777, owner)
        applied.append(change.path)
    return tuple(applied)
