"""The mutator's bugs: one edit of the entry point's body each, still Python, and failing."""

import ast
import difflib

import pytest
from mutator import KINDS, candidates, failing_mutants, seeded_order
from mutator_source import body_of, entry_function
from workspace_project import MODULE, project_of, run_tests

from tests.bench.humaneval_cases import PROBLEMS


def edits(before: str, after: str) -> list[tuple[str, int, int, int, int]]:
    """The runs of lines that differ between two texts."""
    matcher = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines())
    return [op for op in matcher.get_opcodes() if op[0] != "equal"]


@pytest.mark.parametrize("number", sorted(PROBLEMS))
def test_every_candidate_is_one_edit_of_the_body_and_still_parses(number: int) -> None:
    project = project_of(PROBLEMS[number])
    function = entry_function(ast.parse(project.module), project.entry_point)
    first_body_line = body_of(function)[0].lineno
    found = candidates(project.module, project.entry_point)
    assert found
    for mutant in found:
        ast.parse(mutant.source)
        changed = edits(project.module, mutant.source)
        assert len(changed) == 1, mutant.description
        assert changed[0][1] + 1 >= first_body_line  # signature and docstring untouched


def test_the_problems_together_give_every_kind_of_bug() -> None:
    projects = [project_of(problem) for problem in PROBLEMS.values()]
    kinds = {m.kind for p in projects for m in candidates(p.module, p.entry_point)}
    assert kinds == set(KINDS)


def test_each_kind_reads_as_the_bug_it_names() -> None:
    project = project_of(PROBLEMS[0])
    found = {m.description: m for m in candidates(project.module, project.entry_point)}
    lines = project.module.splitlines()

    def line_of(description: str) -> str:
        mutant = found[description]
        return mutant.source.splitlines()[mutant.line - 1].strip()

    assert line_of("`<` became `<=`") == "if distance <= threshold:"
    assert line_of("`!=` became `==`") == "if idx == idx2:"
    assert line_of("`-` became `+`") == "distance = abs(elem + elem2)"
    assert line_of("`elem` became `elem2`") == "distance = abs(elem2 - elem2)"
    deleted = found["the `if distance < threshold:` branch was deleted"]
    assert len(deleted.source.splitlines()) == len(lines) - 2
    assert "return True" not in deleted.source


def test_an_off_by_one_moves_a_bound_by_one() -> None:
    project = project_of(PROBLEMS[35])
    found = {m.description for m in candidates(project.module, project.entry_point)}
    assert {"index `0` became `1`", "index `0` became `-1`"} <= found


def test_the_seed_fixes_which_bugs_are_tried_first() -> None:
    project = project_of(PROBLEMS[59])
    found = candidates(project.module, project.entry_point)

    def order(seed: int) -> list[str]:
        ordered = seeded_order(found, project.task_id, seed)
        return [m.source for of_kind in ordered.values() for m in of_kind]

    assert order(0) == order(0)
    assert sorted(order(0)) == sorted(m.source for m in found)
    assert len({tuple(order(seed)) for seed in range(5)}) > 1


@pytest.mark.parametrize("number", [0, 59])
async def test_kept_bugs_differ_in_kind_and_fail_tests_the_canonical_passes(number: int) -> None:
    project = project_of(PROBLEMS[number])
    assert (await run_tests(project.files)).passed
    kept = await failing_mutants(project, seed=0)
    assert len(kept) >= 4
    assert len({m.kind for m in kept}) == len(kept)
    for mutant in kept:
        run = await run_tests({**project.files, MODULE: mutant.source})
        assert run.failed_tests, mutant.description
        assert "failed" in run.report
