"""The workspace copy: private, complete by its rules, and never a way out of itself."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.tools.workspace_support import CALC_BUGGY, CALC_FIXED, make_project, tree
from tools import workspace_files
from tools.workspace import WorkspaceError
from tools.workspace_copy import (
    WorkspaceCopy,
    acopy_workspace,
    adelete_files,
    adiscard,
    aread_files,
    awrite_files,
    read_files,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


@pytest.fixture
async def copy(project: Path) -> AsyncIterator[WorkspaceCopy]:
    made = await acopy_workspace(project)
    yield made
    await adiscard(made)


async def test_the_copy_is_private_and_writes_never_reach_the_source(
    project: Path, copy: WorkspaceCopy
) -> None:
    before = tree(project)
    assert stat.S_IMODE(copy.root.parent.stat().st_mode) == 0o700
    assert project not in copy.root.parents and copy.root != project
    assert set(copy.stamps) == {"calc.py", "tests/test_calc.py"}
    assert copy.stamps["calc.py"].size == len(CALC_BUGGY)

    await awrite_files(copy, {"calc.py": CALC_FIXED, "pkg/new.py": "X = 1\n"})
    await adelete_files(copy, ["tests/test_calc.py"])

    assert (copy.root / "calc.py").read_text() == CALC_FIXED
    assert (copy.root / "pkg" / "new.py").read_text() == "X = 1\n"
    assert not (copy.root / "tests" / "test_calc.py").exists()
    assert tree(project) == before  # content, mode and mtime of every file
    assert (copy.base / "calc.py").read_text() == CALC_BUGGY  # the record of the source
    assert read_files(copy, ["calc.py"]) == {"calc.py": CALC_FIXED}
    assert await aread_files(copy, ["pkg/new.py"]) == {"pkg/new.py": "X = 1\n"}


async def test_discarding_removes_the_copy_and_leaves_the_source(
    project: Path, copy: WorkspaceCopy
) -> None:
    await adiscard(copy)
    assert not copy.root.parent.exists()
    assert (project / "calc.py").read_text() == CALC_BUGGY


async def test_version_control_environments_caches_and_big_files_are_left_out(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workspace_files, "MAX_FILE_BYTES", 1000)
    for junk in (".git/config", "node_modules/x/index.js", "__pycache__/calc.cpython-311.pyc"):
        (project / junk).parent.mkdir(parents=True, exist_ok=True)
        (project / junk).write_text("junk")
    (project / "env2").mkdir()
    (project / "env2" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (project / "env2" / "site.py").write_text("junk")
    (project / "data.bin").write_bytes(b"\0" * 2000)
    (project / "README.md").write_text("hello\n")

    copy = await acopy_workspace(project)
    try:
        assert set(copy.stamps) == {"calc.py", "tests/test_calc.py", "README.md"}
        assert "larger than" in copy.skipped["data.bin"]
        assert not (copy.root / ".git").exists() and not (copy.root / "env2").exists()
        with pytest.raises(WorkspaceError, match="left out"):
            await awrite_files(copy, {"data.bin": "small now"})
        with pytest.raises(WorkspaceError, match=r"\.git"):
            await awrite_files(copy, {".git/hooks/pre-commit": "#!/bin/sh\nrm -rf ~\n"})
    finally:
        await adiscard(copy)


@pytest.mark.parametrize(
    "path", ["../escaped.py", "/tmp/escaped.py", "tests/../../escaped.py", "a//b.py", "./c.py"]
)
async def test_a_path_outside_the_copy_is_refused(
    copy: WorkspaceCopy, tmp_path: Path, path: str
) -> None:
    with pytest.raises(WorkspaceError):
        await awrite_files(copy, {path: "print('escaped')\n"})
    with pytest.raises(WorkspaceError):
        read_files(copy, [path])
    assert not (tmp_path / "escaped.py").exists()
    assert not (copy.root.parent / "escaped.py").exists()
    assert not await asyncio.to_thread(os.path.exists, "/tmp/escaped.py")


async def test_symlinks_out_of_the_workspace_are_not_copied_nor_written_through(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside secret\n")
    project = make_project(tmp_path / "project")
    (project / "linked_dir").symlink_to(outside)
    (project / "linked_file.txt").symlink_to(outside / "secret.txt")

    copy = await acopy_workspace(project)
    try:
        assert {"linked_dir", "linked_file.txt"} <= set(copy.skipped)
        assert "secret.txt" not in str(list(copy.stamps))
        for path in ("linked_dir/planted.py", "linked_file.txt"):
            with pytest.raises(WorkspaceError, match="left out"):
                await awrite_files(copy, {path: "planted\n"})
        assert sorted(os.listdir(outside)) == ["secret.txt"]
        assert (outside / "secret.txt").read_text() == "outside secret\n"
    finally:
        await adiscard(copy)


async def test_a_symlink_planted_in_the_copy_is_refused_not_followed(
    copy: WorkspaceCopy, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target.py").write_text("untouched\n")
    (copy.root / "sneaky_dir").symlink_to(outside)
    (copy.root / "sneaky.py").symlink_to(outside / "target.py")

    for path in ("sneaky_dir/target.py", "sneaky_dir/new.py", "sneaky.py"):
        with pytest.raises(WorkspaceError, match="symlink"):
            await awrite_files(copy, {path: "overwritten\n"})
    with pytest.raises(WorkspaceError, match="symlink"):
        read_files(copy, ["sneaky.py"])
    assert (outside / "target.py").read_text() == "untouched\n"
    assert sorted(os.listdir(outside)) == ["target.py"]


async def test_a_workspace_past_the_limits_is_refused_naming_the_limit_and_the_fix(
    project: Path,
) -> None:
    with pytest.raises(WorkspaceError, match="more than 1 files") as too_many:
        await acopy_workspace(project, max_files=1)
    assert "raise max_files" in str(too_many.value)
    assert "project's own directory" in str(too_many.value)
    with pytest.raises(WorkspaceError, match="raise max_bytes"):
        await acopy_workspace(project, max_bytes=10)


async def test_a_missing_workspace_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="cannot be read"):
        await acopy_workspace(tmp_path / "nowhere")
