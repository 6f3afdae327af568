"""Which requests are fixes or refactors of the user's files, and the files an answer gives."""

from __future__ import annotations

import pytest

from nodes.workspace_job import WorkspaceJob, workspace_job

FILES = ["parser.py", "tests/test_parser.py", "util/strings.py", "README.md", "a/x.py", "b/x.py"]


@pytest.mark.parametrize(
    ("text", "kind", "files", "tests"),
    [
        ("The tests in tests/test_parser.py fail, fix it", "fix", ("tests/test_parser.py",), ()),
        ("Debug parser.py: test_parse_empty crashes", "fix", ("parser.py",), ("test_parse_empty",)),
        (
            "fix tests/test_parser.py::test_quotes",
            "fix",
            ("tests/test_parser.py",),
            ("tests/test_parser.py::test_quotes",),
        ),
        ("Refactor util/strings.py, keep the behaviour", "refactor", ("util/strings.py",), ()),
        ("Rename parse to parse_text in parser.py and its uses", "refactor", ("parser.py",), ()),
        ("Split strings.py into two modules", "refactor", ("util/strings.py",), ()),
        ("Refactor the error handling in parser.py", "refactor", ("parser.py",), ()),
        ("Corrija o bug em parser.py", "fix", ("parser.py",), ()),
        ("Refatore parser.py sem mudar o comportamento", "refactor", ("parser.py",), ()),
        ("Arregla el error de parser.py", "fix", ("parser.py",), ()),
    ],
)
def test_fixes_and_refactors_that_name_workspace_files_or_tests(
    text: str, kind: str, files: tuple[str, ...], tests: tuple[str, ...]
) -> None:
    assert workspace_job(text, FILES) == WorkspaceJob(kind, files, tests)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "Write a parser for CSV files",  # names nothing in the workspace
        "Fix this: def f(x): return x +",  # code pasted, no workspace file named
        "What does parser.py do?",  # names a file, asks no change
        "fix x.py",  # two files have that name: which one is unsaid
    ],
)
def test_other_requests_are_not_workspace_jobs(text: str) -> None:
    assert workspace_job(text, FILES) is None


def test_a_job_travels_as_plain_data() -> None:
    job = WorkspaceJob("refactor", ("parser.py",), ("test_a",))
    assert WorkspaceJob.from_dict(job.as_dict()) == job
