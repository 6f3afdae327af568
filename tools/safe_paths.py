"""Files inside a root directory, reached without ever following a symlink.

A path from a model (or from a copy of a workspace) is checked as text first
(`relative_parts`: relative, no `..`, no empty or `.` parts), then every directory on the
way to it is opened relative to the one before with `O_NOFOLLOW`, so a symlink anywhere
on the path (placed there before or during the walk) is refused rather than followed, and
nothing outside the root is ever read or written. Writes are atomic: a temporary file in
the same directory, then a rename over the target. POSIX only (`dir_fd` and `O_NOFOLLOW`).
Blocking: call from a worker thread.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from tools.workspace import WorkspaceError

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO planted where a file was expected must not hang.
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
# Mode of a directory made on the way to a new file (the umask applies).
NEW_DIR_MODE = 0o777
READ_CHUNK = 1024 * 1024
# The errors a symlink gives when opened with O_NOFOLLOW (ENOTDIR for O_DIRECTORY on some).
SYMLINK_ERRNOS = (errno.ELOOP, errno.ENOTDIR, errno.EMLINK)

PathKind = Literal["missing", "file", "symlink", "other"]


class MissingPath(WorkspaceError):
    """A directory on the way to a path does not exist (and was not to be made)."""


@dataclass(frozen=True)
class Found:
    """A regular file as read: its bytes and what `fstat` said of it."""

    data: bytes
    mode: int
    """Permission bits (`st_mode & 0o7777`)."""
    size: int
    mtime_ns: int
    uid: int
    gid: int

    @property
    def sha256(self) -> str:
        """The content's SHA-256, hex."""
        return hashlib.sha256(self.data).hexdigest()


def relative_parts(path: str) -> tuple[str, ...]:
    """The parts of a relative posix path that stays inside its root.

    Raises:
        WorkspaceError: The path is empty, absolute, has a `..`, `.` or empty part, or a
            NUL byte.
    """
    if not path or "\0" in path:
        raise WorkspaceError(f"{path!r} is not a file path")
    if path.startswith(("/", "\\")) or PurePosixPath(path).is_absolute() or ":" in path[:2]:
        raise WorkspaceError(f"{path!r} is an absolute path: name files relative to the workspace")
    parts = tuple(path.split("/"))
    if any(part in ("", ".", "..") for part in parts):
        raise WorkspaceError(
            f"{path!r} leaves the workspace or is not normalized (no '..', '.' or '//')"
        )
    return parts


@contextlib.contextmanager
def directory(root: Path, parts: tuple[str, ...], *, create: bool = False) -> Iterator[int]:
    """An open descriptor of `root/parts...`, every step taken without following symlinks.

    Raises:
        WorkspaceError: A part is a symlink or not a directory, or is missing and
            `create` is false.
    """
    fd = os.open(root, DIR_FLAGS)
    try:
        for index, part in enumerate(parts):
            where = "/".join(parts[: index + 1])
            try:
                step = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise MissingPath(f"{where!r} does not exist in {root}") from None
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, NEW_DIR_MODE, dir_fd=fd)
                step = _open_dir(fd, part, where, root)
            except OSError as exc:
                if exc.errno in SYMLINK_ERRNOS:
                    raise WorkspaceError(_not_a_directory(where, root)) from None
                raise
            os.close(fd)
            fd = step
        yield fd
    finally:
        os.close(fd)


def _open_dir(parent: int, part: str, where: str, root: Path) -> int:
    try:
        return os.open(part, DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        if exc.errno in SYMLINK_ERRNOS:
            raise WorkspaceError(_not_a_directory(where, root)) from None
        raise


def _not_a_directory(where: str, root: Path) -> str:
    return (
        f"{where!r} in {root} is a symlink or not a directory: refused (symlinks are not followed)"
    )


def read_regular(
    dir_fd: int, name: str, limit: int | None = None, *, label: str | None = None
) -> Found | None:
    """The regular file `name` in `dir_fd` (None when nothing is there).

    Raises:
        WorkspaceError: `name` (shown as `label`) is a symlink or not a regular file, or
            longer than `limit`.
    """
    shown = label or name
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in SYMLINK_ERRNOS:
            raise WorkspaceError(
                f"{shown!r} is a symlink: refused (symlinks are not followed)"
            ) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise WorkspaceError(f"{shown!r} is not a regular file")
        chunks, total = [], 0
        while chunk := os.read(fd, READ_CHUNK):
            chunks.append(chunk)
            total += len(chunk)
            if limit is not None and total > limit:
                raise WorkspaceError(f"{shown!r} is larger than {limit} bytes")
        data = b"".join(chunks)
    finally:
        os.close(fd)
    return Found(
        data, stat.S_IMODE(info.st_mode), len(data), info.st_mtime_ns, info.st_uid, info.st_gid
    )


def kind_of(dir_fd: int, name: str) -> PathKind:
    """What is at `name` in `dir_fd`, without following it: missing, file, symlink, other."""
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return "missing"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "file" if stat.S_ISREG(mode) else "other"


def write_atomic(
    dir_fd: int, name: str, data: bytes, mode: int, owner: tuple[int, int] | None = None
) -> None:
    """Replace `name` in `dir_fd` with `data` at once (temporary file, then rename).

    `owner` (uid, gid) is kept where this process may set it (root editing a user's file).
    """
    temporary = f".orq-{secrets.token_hex(8)}.tmp"  # short: `name` may be near NAME_MAX
    fd = os.open(
        temporary,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o600,
        dir_fd=dir_fd,
    )
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if owner is not None:
                with contextlib.suppress(PermissionError):
                    os.fchown(fd, *owner)
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=dir_fd)
        raise


def remove_regular(dir_fd: int, name: str, *, label: str | None = None) -> None:
    """Remove the regular file `name` from `dir_fd` (never a symlink's target).

    Raises:
        WorkspaceError: `name` (shown as `label`) is missing, a symlink or not a regular file.
    """
    kind = kind_of(dir_fd, name)
    if kind != "file":
        shown = label or name
        raise WorkspaceError(
            f"{shown!r} does not exist" if kind == "missing" else f"{shown!r} is not a regular file"
        )
    os.unlink(name, dir_fd=dir_fd)
