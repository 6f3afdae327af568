"""A workspace job's answer: outcome, tests before and after, diff, in the asker's language."""

from __future__ import annotations

from typing import Any

import pytest

from nodes.common import in_other_language
from nodes.workspace_answer import TEXTS, workspace_answer
from nodes.workspace_job import WorkspaceJob
from orquestra.language import Language, detect_language
from tools.project_tests import TestReport

BEFORE = TestReport(
    ("python", "-m", "pytest"),
    1,
    frozenset({"test_a.py::test_ok"}),
    frozenset({"test_a.py::test_bad"}),
    "1 failed, 1 passed",
    False,
)
DIFF = "--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
ACCEPTED: list[dict[str, Any]] = [{"checks_passed": 2, "checks_total": 2, "feedback": ""}]
REJECTED: list[dict[str, Any]] = [
    {"checks_passed": 1, "checks_total": 2, "feedback": "Rejected. Still failing: test_bad."}
]
FIX = WorkspaceJob("fix", ("a.py",), ())


@pytest.mark.parametrize("language", ["en", "pt", "es"])
def test_every_answer_is_in_the_request_language(language: Language) -> None:
    answers = [
        workspace_answer(FIX, BEFORE, ACCEPTED, DIFF, None, "", language),
        workspace_answer(FIX, BEFORE, ACCEPTED, DIFF, DIFF, "", language),
        workspace_answer(
            WorkspaceJob("refactor", (), ()), BEFORE, ACCEPTED, DIFF, None, "", language
        ),
        workspace_answer(FIX, BEFORE, REJECTED, "", None, "", language),
    ]
    for answer in answers:
        prose = answer.split("```")[0]  # the quoted diff and test output are not prose
        assert detect_language(prose) == language or not in_other_language(prose, language), prose
    assert "(test_a.py::test_bad)" in answers[0] and "```diff\n" + DIFF in answers[0]
    assert answers[0].startswith(TEXTS[language]["fix"])
    assert answers[1].count(TEXTS[language]["applied"]) == 1
    assert answers[2].startswith(TEXTS[language]["refactor"])
    assert "```diff" not in answers[3] and "Still failing: test_bad" in answers[3]


def test_a_refused_apply_names_why_and_still_shows_the_change() -> None:
    why = "a.py changed since the run read it"
    answer = workspace_answer(FIX, BEFORE, ACCEPTED, DIFF, None, why, "en")
    assert f"Not applied: {why}" in answer and DIFF in answer
