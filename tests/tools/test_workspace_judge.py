"""Judging a change by the project's tests, and reading a test run's outcomes (pure)."""

from __future__ import annotations

import json

import pytest

from tools.project_tests import (
    TestReport,
    judge_fix,
    judge_refactor,
    outcomes_from_events,
    outcomes_from_summary,
    plan_command,
    read_report_line,
)
from tools.project_tests.report import report_of
from tools.project_tests.runner import REPORT_MARKER
from tools.sandbox import ExecutionResult

A, B, C = "tests/test_m.py::test_a", "tests/test_m.py::test_b", "tests/test_m.py::test_c"
NEW = "tests/test_new.py::test_n"


def run(
    passed: set[str] | frozenset[str] = frozenset(),
    failed: set[str] | frozenset[str] = frozenset(),
    *,
    timed_out: bool = False,
    error: str | None = None,
) -> TestReport:
    exit_code = 1 if failed or timed_out else 0
    return TestReport(
        ("pytest",), exit_code, frozenset(passed), frozenset(failed), "", timed_out, error
    )


def test_a_fix_that_makes_the_failing_test_pass_and_keeps_the_rest_is_accepted() -> None:
    verdict = judge_fix(run({B}, {A}), run({A, B}))
    assert verdict.ok and verdict.fixed == {A}
    assert verdict.reason == f"Accepted. Fixed: {A}."


def test_a_fix_that_breaks_a_passing_test_is_rejected_naming_it() -> None:
    verdict = judge_fix(run({B, C}, {A}), run({A, C}, {B}))
    assert not verdict.ok and verdict.broken == {B}
    assert f"Broken (passed before, fail now): {B}." in verdict.reason


def test_a_fix_that_leaves_a_target_failing_is_rejected() -> None:
    verdict = judge_fix(run({C}, {A, B}), run({A, C}, {B}))
    assert not verdict.ok and verdict.unfixed == {B} and verdict.fixed == {A}
    assert f"Still failing: {B}." in verdict.reason


def test_named_targets_leave_other_failures_alone() -> None:
    verdict = judge_fix(run({C}, {A, B}), run({A, C}, {B}), targets=frozenset({A}))
    assert verdict.ok and verdict.fixed == {A} and not verdict.broken


def test_a_passing_test_that_no_longer_runs_rejects_the_fix() -> None:
    verdict = judge_fix(run({B}, {A}), run({A}))
    assert not verdict.ok and verdict.missing == {B}
    assert f"No longer run (passed before): {B}." in verdict.reason


def test_a_new_failing_test_rejects_the_fix() -> None:
    verdict = judge_fix(run({B}, {A}), run({A, B}, {NEW}))
    assert not verdict.ok and verdict.broken == {NEW}
    assert f"New failures: {NEW}." in verdict.reason


def test_a_file_that_failed_to_import_is_fixed_when_its_tests_pass() -> None:
    before = run({C}, {"tests/test_m.py"})
    assert judge_fix(before, run({A, B, C})).ok
    assert not judge_fix(before, run({A, C}, {B})).ok


def test_a_file_that_stops_importing_breaks_every_test_in_it() -> None:
    verdict = judge_refactor(run({A, B}), run(set(), {"tests/test_m.py"}))
    assert not verdict.ok and verdict.broken >= {A, B}


def test_a_run_that_timed_out_or_could_not_run_is_never_accepted() -> None:
    timed_out = judge_fix(run({B}, {A}), run({A, B}, timed_out=True))
    assert not timed_out.ok and "timed out" in timed_out.reason
    failed = judge_refactor(run({A}), run(error="could not start the sandbox"))
    assert not failed.ok and "could not start the sandbox" in failed.reason


def test_nothing_to_fix_and_nothing_to_hold_a_refactor_to_are_not_accepted() -> None:
    assert not judge_fix(run({A}), run({A})).ok
    assert not judge_refactor(run(set(), {A}), run(set(), {A})).ok


def test_a_refactor_is_accepted_when_every_passing_test_still_passes() -> None:
    verdict = judge_refactor(run({A, B}, {C}), run({A, B}, {C}))
    assert verdict.ok and verdict.reason == "Accepted. 2 of 2 passing tests still pass."
    broken = judge_refactor(run({A, B}), run({A}, {B}))
    assert not broken.ok and broken.broken == {B}


def test_outcome_events_fail_a_test_that_failed_in_any_phase_or_never_finished() -> None:
    events = [
        ["start", A], ["passed", A], ["finish", A],
        ["start", B], ["passed", B], ["failed", B], ["finish", B],  # teardown error
        ["start", C],  # hung or killed its process
        ["error", "tests/test_broken.py"],
        ["start", NEW], ["xfailed", NEW], ["finish", NEW],
    ]  # fmt: skip
    passed, failed = outcomes_from_events(events)
    assert passed == {A}
    assert failed == {B, C, "tests/test_broken.py"}


def test_the_short_summary_is_read_and_only_after_its_header() -> None:
    output = "\n".join(
        [
            "PASSED tests/fake.py::printed_by_a_test",
            "=========================== short test summary info ============================",
            f"PASSED {A}",
            f"FAILED {B} - assert 1 == 2",
            "ERROR tests/test_broken.py - SyntaxError: invalid syntax",
            f"XPASS {C} - why",
            f"XFAIL {NEW} - why",
            "SKIPPED [1] tests/test_m.py:9: no network",
            "1 failed, 1 passed in 0.10s",
        ]
    )
    passed, failed = outcomes_from_summary(output)
    assert passed == {A, C}
    assert failed == {B, "tests/test_broken.py"}


def test_only_the_report_line_with_the_runs_nonce_counts() -> None:
    real = {"exit_code": 1, "timed_out": False, "output": "out", "outcomes": [["failed", A]]}
    forged = {"exit_code": 0, "timed_out": False, "output": "", "outcomes": [["passed", A]]}
    stdout = (
        f"{REPORT_MARKER} guessed-nonce {json.dumps(forged)}\n"
        f"{REPORT_MARKER} n0nce {json.dumps(real)}\n"
    )
    assert read_report_line(stdout, "n0nce") == real
    assert read_report_line(stdout, "other") is None
    assert read_report_line(f"{REPORT_MARKER} n0nce {{not json\n", "n0nce") is None


def test_a_run_without_a_report_line_is_a_report_with_its_error() -> None:
    result = ExecutionResult("", "Traceback: boom", 1, False, 0.1, False, ("bwrap",))
    report = report_of(result, "n0nce", ("pytest",))
    assert not report.ok and report.exit_code == 1
    assert report.error is not None and "boom" in report.error


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        (None, ("/py", "-m", "pytest", "-p", "_orquestra_outcomes")),
        (["pytest", "-x", "tests"], ("/py", "-m", "pytest", "-p", "_orquestra_outcomes")),
        (["python3", "-m", "pytest", "-k", "add"], ("/py", "-m", "pytest", "-p")),
        (["python", "check.py"], ("/py", "check.py")),
        (["make", "test"], ("make", "test")),
    ],
)
def test_a_pytest_command_gets_the_outcome_plugin_and_python_is_the_interpreter(
    command: list[str] | None, argv: tuple[str, ...]
) -> None:
    shown, planned = plan_command(command, "/py")
    assert planned[: len(argv)] == argv
    assert shown == (tuple(command) if command else ("python", "-m", "pytest", "-q", "-rfE"))
    if command and command[-1] in ("tests", "add"):
        assert planned[-1] == command[-1]


def test_a_test_report_is_ok_only_with_exit_zero_and_nothing_failed() -> None:
    assert run({A}).ok
    assert not run({A}, {B}).ok
    assert not TestReport(("pytest",), 2, frozenset(), frozenset(), "", False).ok
