"""A private copy of the user's workspace, for a run that changes code and runs its tests.

`acopy_workspace` copies the workspace's regular files into a new mode-0700 directory
under the temporary directory, twice: `root`, the copy the run reads and writes, and
`base`, the files as they were read (never written), which `tools.changes` diffs against.
Each file gets a `FileStamp` (size, mtime, SHA-256 of the bytes copied), so
`tools.changes.aapply` can tell whether the user changed a file since.

What is copied is `tools.workspace_files`' rule: regular files, without version-control
internals, virtual environments, caches or `node_modules`; symlinks are never followed
(not even to a file inside the workspace). What was left out for being a symlink,
special or too large is listed in `WorkspaceCopy.skipped`, and nothing can be written
through the copy under those paths or into an excluded directory. A workspace past
`max_files` or `max_bytes` is refused with the limit and the fix.

Nothing here writes to `source`: only `tools.changes.aapply` does. Every path given here
is checked (relative, no `..`, no symlink on the way: `tools.safe_paths`). The copy never
reaches the sandbox as a directory: `tools.project_tests` sends its files in.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from tools.safe_paths import (
    DIR_FLAGS,
    directory,
    kind_of,
    read_regular,
    relative_parts,
    remove_regular,
    write_atomic,
)
from tools.workspace import WorkspaceError
from tools.workspace_files import EXCLUDED_DIRS, MAX_FILE_BYTES, MIB, walk

DEFAULT_MAX_BYTES = 64 * MIB
DEFAULT_MAX_FILES = 5_000

# The copy's directory (under the temporary directory) and its two trees.
COPY_PREFIX = "orq-ws-"
WORK_DIR = "work"
BASE_DIR = "base"
# Mode of a file the run creates in the copy.
NEW_FILE_MODE = 0o644


@dataclass(frozen=True)
class FileStamp:
    """What a file was when the copy read it."""

    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class WorkspaceCopy:
    """A private, read-write copy of a workspace, and what each file was when copied."""

    source: Path
    """The user's workspace, resolved (never written by anything but `tools.changes.aapply`)."""
    root: Path
    """The copy the run reads and writes (in a mode-0700 directory of its own)."""
    stamps: Mapping[str, FileStamp]
    """Relative posix path -> stamp, for every file copied."""
    base: Path
    """The files as they were read, for diffs (never written)."""
    skipped: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Relative path -> why it was left out (a symlink, not a regular file, too large)."""


async def acopy_workspace(
    source: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, max_files: int = DEFAULT_MAX_FILES
) -> WorkspaceCopy:
    """Copy the workspace at `source` into a new private directory (see the module docstring).

    Raises:
        WorkspaceError: `source` is not a directory, or holds more than `max_files` files
            or `max_bytes` bytes to copy (the message names the limit and the fix).
    """
    return await asyncio.to_thread(_copy, Path(source), max_bytes, max_files)


def read_files(copy: WorkspaceCopy, paths: Sequence[str]) -> dict[str, str]:
    """The text of each file of the copy (UTF-8; undecodable bytes replaced). Blocking.

    Raises:
        WorkspaceError: A path is outside the copy, or not a file in it.
    """
    texts = {}
    for path in paths:
        parts = relative_parts(path)
        with directory(copy.root, parts[:-1]) as fd:
            found = read_regular(fd, parts[-1], label=path)
        if found is None:
            raise WorkspaceError(f"{path!r} is not a file in the workspace")
        texts[path] = found.data.decode("utf-8", errors="replace")
    return texts


async def aread_files(copy: WorkspaceCopy, paths: Sequence[str]) -> dict[str, str]:
    """`read_files` without blocking the event loop."""
    return await asyncio.to_thread(read_files, copy, paths)


async def awrite_files(copy: WorkspaceCopy, files: Mapping[str, str]) -> None:
    """Write each file (path -> new text, UTF-8) into the copy, never anywhere else.

    Every path is checked before anything is written.

    Raises:
        WorkspaceError: A path is absolute, has `..`, goes through a symlink, lies inside
            an excluded directory (`.git`, a virtual environment...), was left out of the
            copy, or its text is larger than `MAX_FILE_BYTES`.
    """
    encoded = {path: text.encode("utf-8") for path, text in files.items()}
    checked = {path: writable_parts(copy, path) for path in encoded}
    for path, data in encoded.items():
        if len(data) > MAX_FILE_BYTES:
            raise WorkspaceError(f"{path!r} would be {len(data)} bytes; at most {MAX_FILE_BYTES}")
    await asyncio.to_thread(_write, copy.root, checked, encoded)


async def adelete_files(copy: WorkspaceCopy, paths: Sequence[str]) -> None:
    """Delete files from the copy (the change then deletes them from the source).

    Raises:
        WorkspaceError: As `awrite_files`, or a path is not a file of the copy.
    """
    checked = [writable_parts(copy, path) for path in paths]
    await asyncio.to_thread(_delete, copy.root, checked)


async def adiscard(copy: WorkspaceCopy) -> None:
    """Remove the copy (both trees); the source is not touched."""
    holder = copy.root.parent
    if not holder.name.startswith(COPY_PREFIX) or copy.base.parent != holder:
        raise WorkspaceError(f"{holder} is not a workspace copy: not removed")
    await asyncio.to_thread(shutil.rmtree, holder, True)


def writable_parts(copy: WorkspaceCopy, path: str) -> tuple[str, ...]:
    """The parts of `path` if the run may write it in the copy (pure).

    Raises:
        WorkspaceError: The path leaves the copy, lies in an excluded directory (writing
            `.git/hooks/...` would run code on the user's next commit), or was left out.
    """
    parts = relative_parts(path)
    excluded = [part for part in parts[:-1] if part in EXCLUDED_DIRS]
    if excluded or parts[-1] in EXCLUDED_DIRS:
        raise WorkspaceError(f"{path!r} is inside {(excluded or [parts[-1]])[0]}: not writable")
    for end in range(1, len(parts) + 1):
        left_out = "/".join(parts[:end])
        if left_out in copy.skipped:
            why = copy.skipped[left_out]
            raise WorkspaceError(f"{path!r}: {left_out!r} was left out of the copy ({why})")
    return parts


def _copy(source: Path, max_bytes: int, max_files: int) -> WorkspaceCopy:
    try:
        source = source.resolve(strict=True)
    except OSError as exc:
        raise WorkspaceError(f"the workspace {source} cannot be read: {exc}") from None
    if not source.is_dir():
        raise WorkspaceError(f"the workspace {source} is not a directory")
    holder = Path(tempfile.mkdtemp(prefix=COPY_PREFIX))  # mode 0700
    root, base = holder / WORK_DIR, holder / BASE_DIR
    root.mkdir(mode=0o700)
    base.mkdir(mode=0o700)
    stamps: dict[str, FileStamp] = {}
    skipped: dict[str, str] = {}
    total = 0
    try:
        fd = os.open(source, DIR_FLAGS)
        try:
            for path, found in walk(fd, "", skipped, 0):
                total += found.size
                if len(stamps) >= max_files:
                    raise WorkspaceError(
                        _too_big(source, f"more than {max_files} files", "max_files")
                    )
                if total > max_bytes:
                    size = f"more than {max_bytes // MIB} MiB of files"
                    raise WorkspaceError(_too_big(source, size, "max_bytes"))
                stamps[path] = FileStamp(found.size, found.mtime_ns, found.sha256)
                _place(root / path, found.data, found.mode | 0o600)
                _place(base / path, found.data, (found.mode & 0o555) | 0o400)
        finally:
            os.close(fd)
    except BaseException:
        shutil.rmtree(holder, ignore_errors=True)
        raise
    return WorkspaceCopy(
        source=source,
        root=root,
        stamps=MappingProxyType(stamps),
        base=base,
        skipped=MappingProxyType(skipped),
    )


def _too_big(source: Path, what: str, setting: str) -> str:
    left_out = ", ".join(sorted(EXCLUDED_DIRS))
    return (
        f"the workspace {source} holds {what} to copy (leaving out {left_out}, virtual "
        f"environments and files over {MAX_FILE_BYTES // MIB} MiB): point the workspace at "
        f"the project's own directory, or raise {setting}"
    )


def _place(target: Path, data: bytes, mode: int) -> None:
    """Write one file of a fresh copy (the copy's own private tree: no one else's paths)."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _write(root: Path, checked: Mapping[str, tuple[str, ...]], data: Mapping[str, bytes]) -> None:
    for path, parts in checked.items():
        with directory(root, parts[:-1], create=True) as fd:
            kind = kind_of(fd, parts[-1])
            if kind not in ("missing", "file"):
                raise WorkspaceError(f"{path!r} is a {kind} in the copy: not replaced")
            mode = NEW_FILE_MODE
            if kind == "file":
                mode = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False).st_mode & 0o7777
            write_atomic(fd, parts[-1], data[path], mode)


def _delete(root: Path, checked: Sequence[tuple[str, ...]]) -> None:
    for parts in checked:
        with directory(root, parts[:-1]) as fd:
            remove_regular(fd, parts[-1], label="/".join(parts))
