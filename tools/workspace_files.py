"""Which files of a workspace count: regular files, without version control, caches or venvs.

The one rule for what a workspace copy holds, what its diff compares and what its tests
get: regular files, walked without following any symlink (each directory opened
relative to its parent with `O_NOFOLLOW`), leaving out `EXCLUDED_DIRS`, any directory
holding a `pyvenv.cfg` (a virtual environment, whatever its name) and compiled
bytecode; symlinks, special files, files over `MAX_FILE_BYTES` and directories deeper
than `MAX_DEPTH` are left out and reported. Blocking: call from a worker thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from tools.safe_paths import DIR_FLAGS, Found, kind_of, read_regular
from tools.workspace import WorkspaceError

MIB = 1024 * 1024
# Larger files are left out (data, archives, models), and listed as skipped.
MAX_FILE_BYTES = 8 * MIB
# Deeper directories are left out (and listed): a workspace is not a filesystem dump.
MAX_DEPTH = 64
EXCLUDED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "__pycache__",
        "node_modules",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".eggs",
        ".ipynb_checkpoints",
    }
)
# A directory holding this file is a virtual environment, whatever its name.
VENV_MARKER = "pyvenv.cfg"
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


def tree_files(top: Path) -> Iterator[tuple[str, Found]]:
    """Every regular file under `top` (relative posix path, content), by the copy's rules.

    Blocking. What is left out is not reported (`walk` reports it).
    """
    fd = os.open(top, DIR_FLAGS)
    try:
        yield from walk(fd, "", {}, 0)
    finally:
        os.close(fd)


def walk(
    dir_fd: int, prefix: str, skipped: dict[str, str], depth: int
) -> Iterator[tuple[str, Found]]:
    """The files under the directory `dir_fd` (paths prefixed); what is left out, in `skipped`."""
    with os.scandir(dir_fd) as listing:
        entries = sorted(listing, key=lambda entry: entry.name)
    for entry in entries:
        path = f"{prefix}{entry.name}"
        if entry.is_symlink():
            skipped[path] = "a symlink: not followed"
        elif entry.is_dir(follow_symlinks=False):
            if entry.name in EXCLUDED_DIRS:
                continue
            if depth >= MAX_DEPTH:
                skipped[path] = f"deeper than {MAX_DEPTH} directories"
                continue
            try:
                sub = os.open(entry.name, DIR_FLAGS, dir_fd=dir_fd)
            except OSError:
                skipped[path] = "a directory that could not be opened (or became a symlink)"
                continue
            try:
                if kind_of(sub, VENV_MARKER) == "missing":
                    yield from walk(sub, f"{path}/", skipped, depth + 1)
            finally:
                os.close(sub)
        elif entry.is_file(follow_symlinks=False):
            if entry.name.endswith(EXCLUDED_SUFFIXES):
                continue
            if entry.stat(follow_symlinks=False).st_size > MAX_FILE_BYTES:
                skipped[path] = f"larger than {MAX_FILE_BYTES // MIB} MiB"
                continue
            try:
                found = read_regular(dir_fd, entry.name, MAX_FILE_BYTES, label=path)
            except (WorkspaceError, OSError) as exc:
                skipped[path] = str(exc)
                continue
            if found is not None:
                yield path, found
        else:
            skipped[path] = "not a regular file"
