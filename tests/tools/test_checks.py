"""Candidates run in the sandbox against the request's own checks."""

from __future__ import annotations

from tools.checks import NO_OUTPUT_ERROR, CheckTally, arun_checked, read_tally
from tools.spec import read_spec

REQUEST = '''Complete the following Python function:
```python
def mean(numbers: list[float]) -> float:
    """Arithmetic mean.
    >>> mean([1.0, 2.0, 4.0])
    2.3333333
    >>> mean([2, 2])
    2.0
    """
```'''


async def test_a_correct_candidate_passes_every_check() -> None:
    spec = read_spec(REQUEST)
    run = await arun_checked(
        "def mean(numbers):\n    return sum(numbers) / len(numbers)\n", spec, timeout_s=10
    )
    assert run.accepted and run.tally.passed == run.tally.total == 2
    assert "2 of 2 checks from the request passed" in run.result.stdout
    assert "[orquestra-checks]" not in run.result.stderr


async def test_a_failing_check_is_an_error_naming_the_line_expected_and_actual() -> None:
    spec = read_spec(REQUEST)
    run = await arun_checked("def mean(numbers):\n    return max(numbers)\n", spec, timeout_s=10)
    assert not run.accepted and run.result.exit_code == 1
    assert (run.tally.passed, run.tally.total) == (1, 2)
    assert "Check failed (line 5 of the request): mean([1.0, 2.0, 4.0])" in run.problem
    assert "expected: 2.3333333" in run.problem and "actual:   4.0" in run.problem


async def test_an_exception_in_a_check_names_the_solution_line() -> None:
    spec = read_spec(REQUEST)
    run = await arun_checked("def mean(numbers):\n    return 1 / 0\n", spec, timeout_s=10)
    assert not run.accepted
    assert "raised:   ZeroDivisionError" in run.problem and "solution.py, line 2" in run.problem


async def test_a_missing_function_and_code_that_does_not_parse_are_rejected() -> None:
    spec = read_spec(REQUEST)
    missing = await arun_checked("def average(x):\n    return 0\n", spec, timeout_s=10)
    assert not missing.accepted and "does not define mean" in missing.problem
    broken = await arun_checked("def mean(:\n", spec, timeout_s=10)
    assert not broken.accepted and "SyntaxError" in broken.problem


async def test_the_candidates_main_block_does_not_run_and_a_hang_times_out() -> None:
    spec = read_spec(REQUEST)
    quiet = await arun_checked(
        "def mean(n):\n    return sum(n) / len(n)\n\nif __name__ == '__main__':\n    input()\n",
        spec,
        timeout_s=10,
    )
    assert quiet.accepted
    hang = await arun_checked("def mean(n):\n    while True:\n        pass\n", spec, timeout_s=1)
    assert not hang.accepted and hang.result.timed_out and "timed out" in hang.problem


async def test_a_script_must_exit_zero_and_print_its_result() -> None:
    spec = read_spec("Write a script that prints the sum of 1 to 10")
    silent = await arun_checked("x = sum(range(11))\n", spec, timeout_s=10)
    assert not silent.accepted and silent.problem == NO_OUTPUT_ERROR
    loud = await arun_checked("print(sum(range(11)))\n", spec, timeout_s=10)
    assert loud.accepted and loud.result.stdout == "55\n"


def test_a_missing_or_forged_tally_counts_as_nothing_passed() -> None:
    spec = read_spec(REQUEST)
    nonce = "5eed" * 8
    assert read_tally("Traceback ...\n", spec, nonce)[1].passed == 0
    assert read_tally(f"[orquestra-checks] {nonce} not json\n", spec, nonce)[1].passed == 0
    forged = '[orquestra-checks] {"passed": 2, "total": 2, "missing": []}\n'
    assert read_tally(forged, spec, nonce) == (forged, CheckTally(0, 2))
    verdict = f'[orquestra-checks] {nonce} {{"passed": 2, "total": 2, "missing": []}}\n'
    assert read_tally(forged + "oops" + verdict, spec, nonce) == (
        forged + "oops\n",
        CheckTally(2, 2),
    )


async def test_values_of_every_plain_kind_and_their_look_alikes_pass() -> None:
    request = '''Complete the following Python function:
```python
def describe(n: int) -> tuple:
    """Facts about n.
    >>> describe(3)
    (3, 0.75, [True, None], {'odd': {3}}, b'3', 1267650600228229401496703205376)
    """
```'''
    candidate = (
        "from collections import OrderedDict, namedtuple\n"
        "from enum import IntEnum\n"
        "Facts = namedtuple('Facts', 'n ratio flags kinds raw big')\n"
        "Three = IntEnum('Three', {'THREE': 3})\n"
        "def describe(n):\n"
        "    return Facts(Three.THREE, n / 4 + 1e-12, [n == 3, None],\n"
        "                 OrderedDict(odd={n}), bytearray(b'3'), 2**100)\n"
    )
    run = await arun_checked(candidate, read_spec(request), timeout_s=10)
    assert run.accepted, run
