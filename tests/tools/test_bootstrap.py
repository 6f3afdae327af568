"""The bootstrap: removing hostile trees, and the one script it is joined into for the sandbox."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.bootstrap import REMOVE_FLAG, remove_tree, script_source
from tools.bootstrap.script import MODULES, _joinable


def test_remove_tree_handles_depth_and_locked_directories(tmp_path: Path) -> None:
    top = tmp_path / "tree"
    top.mkdir()
    fd = os.open(top, os.O_RDONLY)
    for _ in range(3000):  # far deeper than PATH_MAX and the recursion limit
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)
    (top / "locked" / "inner").mkdir(parents=True)
    (top / "locked" / "inner" / "f").write_text("x")
    os.chmod(top / "locked" / "inner", 0)
    os.chmod(top / "locked", 0)
    assert remove_tree(str(top)) and not top.exists()


def test_the_script_needs_nothing_but_the_standard_library(tmp_path: Path) -> None:
    source = script_source()
    tree = ast.parse(source)
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
    # Run as the sandbox runs it: isolated, from an empty directory, the project out of sight.
    doomed = tmp_path / "doomed" / "deep"
    doomed.mkdir(parents=True)
    (doomed / "f").write_text("x")
    done = subprocess.run(
        [sys.executable, "-I", "-c", source, REMOVE_FLAG, str(tmp_path / "doomed")],
        cwd=tmp_path,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "doomed").exists()


def test_the_script_holds_every_module_once_and_ends_with_the_entry_point() -> None:
    source = script_source()
    assert MODULES[-1] == "__main__"
    assert [line for line in source.splitlines() if line.startswith("# --- ")] == [
        f"# --- {module} ---" for module in MODULES
    ]
    assert source.count("from __future__ import annotations") == 1
    assert source.rstrip().endswith('if __name__ == "__main__":\n    _entry()')


def test_joining_refuses_what_would_change_the_script() -> None:
    with pytest.raises(ValueError, match="cannot import the project"):
        _joinable("m", "import tools.extract\n", {})
    with pytest.raises(ValueError, match="cannot import the project"):
        _joinable("m", "def f():\n    from tools.bootstrap.native import libc\n", {})
    with pytest.raises(ValueError, match="as they are"):
        _joinable("m", "from tools.bootstrap.native import libc as c\n", {})
    with pytest.raises(ValueError, match="defined in both"):
        _joinable("m", "def libc():\n    pass\n", {"libc": "native"})
    module = (
        '"""Doc."""\n\nfrom __future__ import annotations\n\n'
        "from tools.bootstrap.native import (\n    libc,\n)\n\nX = 1\n"
    )
    kept = _joinable("m", module, {})
    assert kept == "# --- m ---\nX = 1\n"
