"""The copy's change: its diff, and writing it to the user's files only when asked, safely."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.tools.workspace_support import CALC_BUGGY, CALC_FIXED, git, make_project, tree
from tools.changes import aapply, aunified_diff, unified_diff
from tools.diffs import FileChange, render_diff
from tools.workspace import WorkspaceError
from tools.workspace_copy import (
    WorkspaceCopy,
    acopy_workspace,
    adelete_files,
    adiscard,
    awrite_files,
)

NEW_MODULE = "def sub(a, b):\n    return a - b\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "project")
    (root / "notes.txt").write_text("old notes\n")
    return root


@pytest.fixture
async def copy(project: Path) -> AsyncIterator[WorkspaceCopy]:
    made = await acopy_workspace(project)
    yield made
    await adiscard(made)


async def change_everything(copy: WorkspaceCopy) -> None:
    """Modify calc.py, create pkg/sub.py, delete notes.txt."""
    await awrite_files(copy, {"calc.py": CALC_FIXED, "pkg/sub.py": NEW_MODULE})
    await adelete_files(copy, ["notes.txt"])


async def test_the_diff_shows_modified_new_and_deleted_files_and_applies_with_git(
    project: Path, copy: WorkspaceCopy, tmp_path: Path
) -> None:
    await change_everything(copy)
    diff = await aunified_diff(copy)

    assert "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n" in diff
    assert "-    return a - b\n+    return a + b\n" in diff
    assert "diff --git a/pkg/sub.py b/pkg/sub.py\nnew file mode 100644\n--- /dev/null\n" in diff
    assert "+++ b/pkg/sub.py\n@@ -0,0 +1,2 @@\n+def sub(a, b):\n" in diff
    assert "deleted file mode 100644\n--- a/notes.txt\n+++ /dev/null\n" in diff
    assert "tests/test_calc.py" not in diff  # unchanged files are not in it
    # The proof of a diff: applied to the original files, it gives the copy's files.
    replay = tmp_path / "replay"
    shutil.copytree(copy.base, replay)
    await asyncio.to_thread(
        subprocess.run, ["git", "apply", "-"], cwd=replay, input=diff, text=True, check=True
    )
    assert {p: c for p, (c, _, _) in tree(replay).items()} == {
        p: c for p, (c, _, _) in tree(copy.root).items()
    }


def test_the_diff_marks_a_missing_final_newline_and_binary_files() -> None:
    diff = render_diff(
        [
            FileChange("a.txt", b"one\ntwo", b"one\nthree", 0o644),
            FileChange("blob.bin", b"\0\1", b"\0\2", 0o644),
            FileChange("run.sh", None, b"#!/bin/sh\n", 0o755),
        ]
    )
    assert "-two\n\\ No newline at end of file\n+three\n\\ No newline at end of file\n" in diff
    assert "Binary files a/blob.bin and b/blob.bin differ\n" in diff
    assert "new file mode 100755\n" in diff
    assert diff.index("a/a.txt") < diff.index("a/blob.bin") < diff.index("a/run.sh")


async def test_nothing_is_written_to_the_source_until_apply_is_called(
    project: Path, copy: WorkspaceCopy
) -> None:
    before = tree(project)
    await change_everything(copy)
    assert unified_diff(copy)
    assert tree(project) == before

    result = await aapply(copy)

    assert result.applied == ("calc.py", "notes.txt", "pkg/sub.py")
    assert (project / "calc.py").read_text() == CALC_FIXED
    assert (project / "pkg" / "sub.py").read_text() == NEW_MODULE
    assert not (project / "notes.txt").exists()
    assert "+    return a + b" in result.shown  # no git repository: its own diff
    assert (project / "tests" / "test_calc.py").read_bytes() == before["tests/test_calc.py"][0]


async def test_a_file_edited_after_the_copy_is_refused_by_name_and_nothing_is_written(
    project: Path, copy: WorkspaceCopy
) -> None:
    await change_everything(copy)
    (project / "calc.py").write_text(CALC_BUGGY + "# the user's own edit\n")
    before = tree(project)

    with pytest.raises(
        WorkspaceError, match=re.escape("calc.py was changed in the source")
    ) as refused:
        await aapply(copy)

    assert "nothing was written" in str(refused.value)
    assert tree(project) == before  # not even the new file or the deletion


async def test_a_file_that_appeared_where_the_change_creates_one_is_refused(
    project: Path, copy: WorkspaceCopy
) -> None:
    await change_everything(copy)
    (project / "pkg").mkdir()
    (project / "pkg" / "sub.py").write_text("# the user's\n")

    with pytest.raises(WorkspaceError, match=re.escape("pkg/sub.py was created in the source")):
        await aapply(copy)
    assert (project / "pkg" / "sub.py").read_text() == "# the user's\n"
    assert (project / "calc.py").read_text() == CALC_BUGGY


async def test_a_symlink_in_the_source_where_the_change_writes_is_refused(
    project: Path, copy: WorkspaceCopy, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "calc.py").write_text(CALC_BUGGY)
    (outside / "test_calc.py").write_text("# outside\n")
    await awrite_files(copy, {"calc.py": CALC_FIXED, "tests/test_calc.py": "# changed\n"})
    # After the copy, the user's file and directory become links out of the workspace.
    (project / "calc.py").unlink()
    (project / "calc.py").symlink_to(outside / "calc.py")
    shutil.rmtree(project / "tests")
    (project / "tests").symlink_to(outside)

    with pytest.raises(WorkspaceError) as refused:
        await aapply(copy)

    assert "calc.py is a symlink in the source" in str(refused.value)
    assert "tests/test_calc.py cannot be reached in the source" in str(refused.value)
    assert (outside / "calc.py").read_text() == CALC_BUGGY
    assert (outside / "test_calc.py").read_text() == "# outside\n"
    assert sorted(os.listdir(outside)) == ["calc.py", "test_calc.py"]


async def test_applying_keeps_modes_and_replaces_files_atomically(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    script = project / "run.sh"
    script.write_text("#!/bin/sh\necho old\n")
    script.chmod(0o750)
    (project / "calc.py").chmod(0o600)
    copy = await acopy_workspace(project)
    try:
        await awrite_files(copy, {"run.sh": "#!/bin/sh\necho new\n", "calc.py": CALC_FIXED})
        await awrite_files(copy, {"new.py": NEW_MODULE})
        inode = script.stat().st_ino
        await aapply(copy)
    finally:
        await adiscard(copy)
    assert stat.S_IMODE(script.stat().st_mode) == 0o750
    assert stat.S_IMODE((project / "calc.py").stat().st_mode) == 0o600
    assert stat.S_IMODE((project / "new.py").stat().st_mode) == 0o644
    assert script.read_text() == "#!/bin/sh\necho new\n"
    assert script.stat().st_ino != inode  # a new file renamed over the old, never half-written
    assert not [name for name in os.listdir(project) if name.startswith(".orq-")]


async def test_applying_again_writes_nothing(project: Path, copy: WorkspaceCopy) -> None:
    await change_everything(copy)
    first = await aapply(copy)
    second = await aapply(copy)
    assert first.applied and second.applied == ()
    assert second.shown == ""


async def test_in_a_git_repository_apply_shows_git_diff_and_leaves_the_index(
    project: Path,
) -> None:
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "start")
    copy = await acopy_workspace(project)
    try:
        assert not any(path.startswith(".git/") for path in copy.stamps)
        await change_everything(copy)
        result = await aapply(copy)
    finally:
        await adiscard(copy)

    assert "index " in result.shown  # git's own header line: it is git diff
    assert "diff --git a/calc.py b/calc.py" in result.shown
    assert "-    return a - b\n+    return a + b\n" in result.shown
    assert "diff --git a/pkg/sub.py b/pkg/sub.py\nnew file mode 100644" in result.shown
    assert "diff --git a/notes.txt b/notes.txt\ndeleted file mode 100644" in result.shown
    tracked = git(project, "diff", "--", "calc.py", "notes.txt")
    assert tracked and tracked in result.shown  # the same text `git diff` gives the user
    assert git(project, "diff", "--cached") == ""  # the index is untouched
    status = git(project, "status", "--porcelain")
    assert " M calc.py" in status and " D notes.txt" in status and "?? pkg/" in status
