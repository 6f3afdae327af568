"""Removing a directory tree of any depth and any permissions, fast and without raising.

Part of the sandbox's bootstrap (see `tools.bootstrap`): standard library only. The
application uses `remove_tree` for the `process` tier's work dirs, and runs the bootstrap
script with `REMOVE_FLAG` as a detached remover (see `tools.workdirs`).
"""

from __future__ import annotations

import contextlib
import os
import time

# Run as `python -c SOURCE --remove PATH`: only remove PATH (see `tools.workdirs`).
REMOVE_FLAG = "--remove"


def remove_tree(path: str, deadline: float | None = None) -> bool:
    """Remove a directory tree of any depth, fixing permissions on the way; never raises.

    Iterative and relative to one open directory at a time, so 3,000 nested directories
    (deeper than PATH_MAX, deeper than Python's recursion limit) and mode-000 directories
    go too. Returns False if it stopped at `deadline` (time.monotonic) or could not finish.
    """
    try:
        top = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path)  # a file or a symlink, not a directory
            return True
        with contextlib.suppress(OSError):
            os.chmod(path, 0o700)
            top = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            return _remove_from(top, path, deadline)
        return False
    return _remove_from(top, path, deadline)


def _remove_from(top: int, path: str, deadline: float | None) -> bool:
    fd = top
    # One entry per directory below `path` we are in: (its name, subdirectories left).
    stack: list[tuple[str, list[str]]] = []
    pending: list[str] = []
    finished = False
    try:
        while True:
            if deadline is not None and time.monotonic() > deadline:
                return False
            if not pending:
                pending = _empty_files(fd)
            if pending:
                name = pending.pop()
                with contextlib.suppress(OSError):
                    os.chmod(name, 0o700, dir_fd=fd, follow_symlinks=False)
                try:
                    child = os.open(
                        name,
                        os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                        dir_fd=fd,
                    )
                except OSError:
                    with contextlib.suppress(OSError):
                        os.unlink(name, dir_fd=fd)
                    continue
                stack.append((name, pending))
                os.close(fd)
                fd, pending = child, []
                continue
            if not stack:
                finished = True
                break
            name, pending = stack.pop()
            parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = parent
            with contextlib.suppress(OSError):
                os.rmdir(name, dir_fd=fd)
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
    if finished:
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass
        except OSError:
            return False
    return finished


def _empty_files(fd: int) -> list[str]:
    """Unlink every non-directory in `fd`; return the names of its subdirectories."""
    subdirs = []
    with contextlib.suppress(OSError):
        os.chmod(fd, 0o700)
    with os.scandir(fd) as entries:
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                subdirs.append(entry.name)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.name, dir_fd=fd)
    return subdirs
