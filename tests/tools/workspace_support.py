"""Small real projects for the workspace tests: a module with a bug and its pytest file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

CALC_BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
CALC_FIXED = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
CALC_TESTS = (
    "from calc import add, mul\n\n\n"
    "def test_add():\n    assert add(2, 3) == 5\n\n\n"
    "def test_mul():\n    assert mul(2, 3) == 6\n"
)
ADD = "tests/test_calc.py::test_add"
MUL = "tests/test_calc.py::test_mul"


def make_project(root: Path, calc: str = CALC_BUGGY) -> Path:
    """`calc.py` (add is wrong unless `calc` says otherwise) and `tests/test_calc.py`."""
    (root / "tests").mkdir(parents=True)
    (root / "calc.py").write_text(calc)
    (root / "tests" / "test_calc.py").write_text(CALC_TESTS)
    return root


def tree(root: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file under `root` (no symlink followed): content, mode, mtime."""
    found = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            info = path.lstat()
            data = b"" if path.is_symlink() else path.read_bytes()
            found[str(path.relative_to(root))] = (data, info.st_mode, info.st_mtime_ns)
    return found


def git(root: Path, *args: str) -> str:
    """Run git in `root` with a fixed identity; its stdout."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    done = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout
