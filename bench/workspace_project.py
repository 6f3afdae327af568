"""A HumanEval problem as a small project (`solution.py`, `test_solution.py`), and its test run.

The module is the problem's prompt followed by its canonical solution; the tests are its
`check` function turned into pytest tests that import from the module (one test per
`assert` where `check` is only asserts, so a failure names the case it broke). Every run
of the tests, canonical, mutated or model-written, happens in the sandbox
(`tools.sandbox.arun_python`), never in this process.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import _common  # noqa: F401  (puts the repository on sys.path)

from tools.sandbox import arun_python

MODULE = "solution.py"
TESTS = "test_solution.py"
TEST_TIMEOUT_S = 20.0
# How much of pytest's report a model is shown: its head (the first failure), then its tail.
REPORT_HEAD_CHARS = 1600
REPORT_TAIL_CHARS = 400
PYTEST_EXIT_FAILED = 1
# Starts of a run that the sandbox itself failed (its error, never the code's), before giving up.
SANDBOX_TRIES = 3
_RUNNER = """\
import os
import pathlib
import sys

os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"

for name, text in {files!r}.items():
    path = pathlib.Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
import pytest

sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "--tb=short", *{tests!r}]))
"""


@dataclass(frozen=True)
class Project:
    """A problem's files, as the user would have them."""

    task_id: str
    entry_point: str
    files: dict[str, str] = field(default_factory=dict)

    @property
    def module(self) -> str:
        return self.files[MODULE]

    @property
    def tests(self) -> str:
        return self.files[TESTS]


@dataclass(frozen=True)
class TestRun:
    """What pytest said about a project's files."""

    exit_code: int
    timed_out: bool
    report: str

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def failed_tests(self) -> bool:
        """Some test ran and failed (not a timeout, a collection error or no tests)."""
        return self.exit_code == PYTEST_EXIT_FAILED and not self.timed_out

    def excerpt(self) -> str:
        """The report as a model is shown it: the first failure and the summary."""
        text = self.report.strip()
        if len(text) <= REPORT_HEAD_CHARS + REPORT_TAIL_CHARS:
            return text
        return f"{text[:REPORT_HEAD_CHARS]}\n[...]\n{text[-REPORT_TAIL_CHARS:]}"


class _Rename(ast.NodeTransformer):
    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.Name(self.new, node.ctx) if node.id == self.old else node


def top_level_functions(module: str) -> list[str]:
    return [n.name for n in ast.parse(module).body if isinstance(n, ast.FunctionDef)]


def checks_as_tests(test_code: str, module: str, entry_point: str) -> str:
    """HumanEval's `check` as a pytest module importing what it uses from `solution`."""
    tree = ast.parse(test_code)
    check = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check")
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    helpers = sorted(n for n in top_level_functions(module) if n in read and n != entry_point)
    imported = [entry_point, *helpers]
    kept = [
        ast.get_source_segment(test_code, n) or ""
        for n in tree.body
        if n is not check
        and not (isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "METADATA")
    ]
    parts = [f"from {MODULE.removesuffix('.py')} import {', '.join(imported)}", *kept]
    if all(isinstance(s, ast.Assert) for s in check.body):
        cases = [
            s
            for s in check.body
            if isinstance(s, ast.Assert) and not isinstance(s.test, ast.Constant)
        ]
        for number, case in enumerate(cases, 1):
            renamed = _Rename("candidate", entry_point).visit(case)
            parts.append(f"def test_{entry_point}_{number}():\n    {ast.unparse(renamed)}")
    else:
        parts.append(ast.get_source_segment(test_code, check) or "")
        parts.append(f"def test_{entry_point}():\n    check({entry_point})")
    return "\n\n\n".join(parts) + "\n"


def project_of(problem: dict[str, str]) -> Project:
    """The project a HumanEval problem makes: its canonical module and its tests."""
    module = problem["prompt"] + problem["canonical_solution"]
    module = re.sub(r"\n{3,}$", "\n", module.rstrip("\n") + "\n")
    tests = checks_as_tests(problem["test"], module, problem["entry_point"])
    return Project(problem["task_id"], problem["entry_point"], {MODULE: module, TESTS: tests})


class SandboxUnavailableError(RuntimeError):
    """The sandbox could not run the tests at all (so nothing can be said of the code)."""


async def run_tests(files: dict[str, str]) -> TestRun:
    """Run the project's `test_*.py` files with pytest, in the sandbox.

    Raises:
        SandboxUnavailableError: The sandbox failed to start the run SANDBOX_TRIES times.
    """
    tests = sorted(name for name in files if name.rsplit("/", 1)[-1].startswith("test_"))
    program = _RUNNER.format(files=files, tests=tests)
    for _ in range(SANDBOX_TRIES):
        result = await arun_python(program, timeout_s=TEST_TIMEOUT_S)
        if result.error is None:
            break
    else:
        raise SandboxUnavailableError(f"the sandbox failed {SANDBOX_TRIES} times: {result.error}")
    report = result.stdout + (f"\n{result.stderr}" if result.stderr.strip() else "")
    exit_code = -1 if result.exit_code is None else result.exit_code
    return TestRun(exit_code, result.timed_out, report)
