"""Host work directories of the `process` tier: made private, removed fast, swept when orphaned.

The namespace tiers keep the work dir in a tmpfs that dies with the run. The process tier
has no mount namespace, so its work dir is a host directory. Removing what hostile code
left there (3,000 nested directories, mode-000 directories, a million hard links) can take
longer than the run may, so the directory is renamed out of the way at once (the run's
path is gone) and emptied by a detached remover process, which finishes the job even if
the application exits or dies meanwhile. Directories of applications that died before
their remover ran are swept by the next application that starts a sandbox.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from tools import bootstrap
from tools.bootstrap import remove_tree
from tools.processes import pid_alive

PREFIX = "orq-sbx-"
TRASH_PREFIX = "orq-trash-"
BOOTSTRAP_SOURCE = bootstrap.script_source()


def make_workdir(owner: int | None) -> str:
    """A fresh private directory for one run, owned by `owner` when given (root)."""
    path = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
    if owner is not None:
        os.chown(path, owner, owner)
    return path


def discard(path: str) -> None:
    """Take `path` away now and remove its contents in a detached process; never raises."""
    parent, name = os.path.split(path)
    trash = os.path.join(parent, f"{TRASH_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}-{name}")
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return
    except OSError:
        trash = path
    try:
        subprocess.Popen(
            [sys.executable, "-I", "-c", BOOTSTRAP_SOURCE, bootstrap.REMOVE_FLAG, trash],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        remove_tree(trash)


def sweep_stale() -> None:
    """Remove work dirs and trash of applications that are no longer running."""
    root = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in root.iterdir():
            for prefix in (PREFIX, TRASH_PREFIX):
                if not entry.name.startswith(prefix):
                    continue
                owner = entry.name[len(prefix) :].split("-", 1)[0]
                if owner.isdigit() and not pid_alive(int(owner)):
                    remove_tree(str(entry))


# World-writable places where a run's own uid could leave files behind (process tier).
SHARED_DIRS = ("/dev/shm", "/tmp", "/var/tmp", "/dev/mqueue")


def remove_owned_by(uid: int) -> None:
    """Remove what a per-run uid left at the top of the world-writable directories."""
    for shared in SHARED_DIRS:
        with contextlib.suppress(OSError), os.scandir(shared) as entries:
            for entry in entries:
                if entry.name.startswith((PREFIX, TRASH_PREFIX)):
                    continue  # work dirs: removed in the background by `discard`
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_uid == uid:
                        remove_tree(entry.path)
