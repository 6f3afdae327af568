"""Whether a change did its job, from the project's tests before and after it (pure).

A fix (`judge_fix`) must make its targets pass (the tests that failed before, or those
named) and break nothing; a refactor (`judge_refactor`) must break nothing. Breaking is:
a test that passed before fails now, or no longer runs (not collected, skipped, its
file no longer imports), or a test that did not exist before fails now. A run after the
change that timed out or could not run proves nothing, and is never accepted; nor is a
fix with nothing to fix, or a refactor with no passing test to hold it to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tools.project_tests.report import TestReport

# Most test ids a reason names per kind of problem (the verdict's sets hold them all).
MAX_NAMED = 10


@dataclass(frozen=True)
class Verdict:
    """The judgement of a change, with what broke, by test id."""

    ok: bool
    reason: str
    """One paragraph for a person or the model: what passed, what broke."""
    fixed: frozenset[str] = frozenset()
    """Targets that pass after the change."""
    unfixed: frozenset[str] = frozenset()
    """Targets that still do not pass."""
    broken: frozenset[str] = frozenset()
    """Tests that passed before and fail now, or fail now and did not exist before."""
    missing: frozenset[str] = frozenset()
    """Tests that passed before and no longer run."""


def judge_fix(
    before: TestReport, after: TestReport, targets: frozenset[str] | None = None
) -> Verdict:
    """A fix: the failing (or targeted) tests pass after, and every passing test still does."""
    unusable = _unusable(after)
    if unusable:
        return Verdict(False, unusable)
    goals = before.failed if targets is None else targets
    if not goals:
        return Verdict(
            False, "Nothing to fix: no test failed before the change and none was named."
        )
    fixed = frozenset(t for t in goals if passes(t, after))
    unfixed = goals - fixed
    broken, missing = _regressions(before, after, goals)
    ok = not unfixed and not broken and not missing
    parts = [_named("Fixed", fixed), _named("Still failing", unfixed)]
    parts += [_named("Broken (passed before, fail now)", broken - _new(before, after))]
    parts += [_named("New failures", broken & _new(before, after))]
    parts += [_named("No longer run (passed before)", missing)]
    return Verdict(ok, _reason(ok, parts), fixed, unfixed, broken, missing)


def judge_refactor(before: TestReport, after: TestReport) -> Verdict:
    """A refactor: every test that passed before still passes, and nothing new fails."""
    unusable = _unusable(after)
    if unusable:
        return Verdict(False, unusable)
    if not before.passed:
        return Verdict(
            False, "No test passed before the change: nothing shows the refactor keeps behaviour."
        )
    broken, missing = _regressions(before, after, frozenset())
    ok = not broken and not missing
    parts = [
        f"{len(before.passed & after.passed)} of {len(before.passed)} passing tests still pass."
    ]
    parts += [_named("Broken (passed before, fail now)", broken - _new(before, after))]
    parts += [_named("New failures", broken & _new(before, after))]
    parts += [_named("No longer run (passed before)", missing)]
    return Verdict(ok, _reason(ok, parts), broken=broken, missing=missing)


def passes(test_id: str, report: TestReport) -> bool:
    """Whether `test_id` passed in `report`.

    An id that is a file or directory (one that failed to collect before) passes when
    tests inside it pass and none inside it fails.
    """
    if test_id in report.passed:
        return True
    if test_id in report.failed or _failing_ancestor(test_id, report):
        return False
    inside = [t for t in report.passed if _contains(test_id, t)]
    return bool(inside) and not any(_contains(test_id, t) for t in report.failed)


def _contains(outer: str, inner: str) -> bool:
    return inner.startswith((outer + "::", outer.rstrip("/") + "/"))


def _failing_ancestor(test_id: str, report: TestReport) -> bool:
    return any(_contains(failed, test_id) for failed in report.failed)


def _new(before: TestReport, after: TestReport) -> frozenset[str]:
    """Tests failing after that neither passed nor failed before."""
    return frozenset(t for t in after.failed if t not in before.passed and t not in before.failed)


def _regressions(
    before: TestReport, after: TestReport, goals: frozenset[str]
) -> tuple[frozenset[str], frozenset[str]]:
    """(broken, missing): what passed before and does not now, and new failures."""
    broken: set[str] = set()
    missing: set[str] = set()
    for test in before.passed:
        if passes(test, after):
            continue
        if test in after.failed or _failing_ancestor(test, after):
            broken.add(test)
        else:
            missing.add(test)
    broken |= _new(before, after) - goals
    return frozenset(broken), frozenset(missing)


def _unusable(after: TestReport) -> str:
    if after.error:
        return f"The tests could not run after the change: {after.error}"
    if after.timed_out:
        return "The tests timed out after the change (a hang, or far too slow)."
    return ""


def _named(label: str, tests: Iterable[str]) -> str:
    ordered = sorted(tests)
    if not ordered:
        return ""
    shown = ", ".join(ordered[:MAX_NAMED])
    more = f" and {len(ordered) - MAX_NAMED} more" if len(ordered) > MAX_NAMED else ""
    return f"{label}: {shown}{more}."


def _reason(ok: bool, parts: Iterable[str]) -> str:
    verdict = "Accepted." if ok else "Rejected."
    return " ".join([verdict, *(part for part in parts if part)])
