"""`git diff` of some paths of a work tree, with new files shown, and the index untouched.

A file the change creates is untracked, and plain `git diff` leaves it out. So the diff is
taken against a throwaway copy of the index (`GIT_INDEX_FILE`) in which the new files are
marked with `git add --intent-to-add`; the repository's own index is never written. Git
runs without anything that would run a command of the repository's configuration (no
external diff, no textconv, no fsmonitor, no hooks), and its failures (no git, not a
repository, a repository git refuses to use) are answered with None: the caller then
shows its own diff.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

# The longest any one git command may take before it is killed (and the diff given up).
GIT_TIMEOUT_S = 30.0
# Settings that keep the repository's configuration from running anything, and plain output.
SAFE_CONFIG = (
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.quotepath=off",
    "-c",
    "color.ui=never",
    "-c",
    "diff.noprefix=false",
    "-c",
    "diff.mnemonicPrefix=false",
)
DIFF_OPTIONS = ("--no-color", "--no-ext-diff", "--no-textconv")


async def agit_diff(work_tree: Path, paths: Sequence[str], created: Sequence[str]) -> str | None:
    """`git diff` of `paths` (relative to `work_tree`), new files in `created` included.

    Returns None where `work_tree` is not in a git repository or git fails.
    """
    if not paths:
        return None
    git = await asyncio.to_thread(shutil.which, "git")
    if git is None:
        return None
    found = await _git(git, work_tree, ("rev-parse", "--git-path", "index"))
    if found is None:
        return None
    index = work_tree / found.strip()
    scratch = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="orq-git-"))
    try:
        throwaway = scratch / "index"
        if await asyncio.to_thread(index.is_file):
            await asyncio.to_thread(shutil.copyfile, index, throwaway)
        env = {**os.environ, "GIT_INDEX_FILE": str(throwaway), "GIT_OPTIONAL_LOCKS": "0"}
        if created:
            literal = tuple(f":(literal){path}" for path in created)
            marked = ("add", "--intent-to-add", "--force", "--", *literal)
            if await _git(git, work_tree, marked, env) is None:
                return None
        pathspecs = tuple(f":(literal){path}" for path in paths)
        return await _git(git, work_tree, ("diff", *DIFF_OPTIONS, "--", *pathspecs), env)
    finally:
        await asyncio.to_thread(shutil.rmtree, scratch, True)


async def _git(
    git: str, cwd: Path, args: Sequence[str], env: dict[str, str] | None = None
) -> str | None:
    """Git's standard output, or None when it fails, is missing or takes too long."""
    try:
        proc = await asyncio.create_subprocess_exec(
            git,
            "--no-pager",
            *SAFE_CONFIG,
            *args,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return None
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), GIT_TIMEOUT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return None
    if proc.returncode != 0:
        return None
    return out.decode("utf-8", errors="replace")
