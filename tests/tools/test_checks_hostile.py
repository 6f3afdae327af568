"""Candidates that try to be accepted without passing the checks: every one is rejected.

The forgers (`hostile_candidates`) are wrong code that tries to forge the verdict; honest
code, right or wrong, is still judged on its values.
"""

from __future__ import annotations

import pytest

from tests.tools.hostile_candidates import ADD_REQUEST, FORGERS
from tools.checks import arun_checked
from tools.spec import read_spec

MEAN_REQUEST = '''Complete the following Python function:
```python
def mean(numbers: list[float]) -> float:
    """Arithmetic mean.
    >>> mean([1.0, 2.0, 4.0])
    2.3333333
    """
```'''


@pytest.mark.parametrize("name", FORGERS)
async def test_a_candidate_that_forges_the_verdict_is_rejected(name: str) -> None:
    run = await arun_checked(FORGERS[name], read_spec(ADD_REQUEST), timeout_s=10)
    assert not run.accepted, run
    assert run.tally.passed < run.tally.total == 2


async def test_an_early_exit_is_explained_to_the_coder() -> None:
    spec = read_spec(ADD_REQUEST)
    run = await arun_checked("import os\ndef add(a, b):\n    os._exit(0)\n", spec, timeout_s=10)
    assert not run.accepted and run.tally.passed == 0
    assert "ended (exit status 0) while the checks ran (0 of 2 answered)" in run.problem
    assert "it does not exit" in run.problem


async def test_patching_the_float_comparison_does_not_pass_a_wrong_mean() -> None:
    candidate = (
        "import math\nmath.isclose = lambda *args, **kwargs: True\n"
        "def mean(numbers):\n    return 0.0\n"
    )
    run = await arun_checked(candidate, read_spec(MEAN_REQUEST), timeout_s=10)
    assert not run.accepted and run.tally.passed == 0


async def test_honest_code_is_judged_on_its_values_whatever_it_prints() -> None:
    spec = read_spec(ADD_REQUEST)
    noisy = (
        "import sys\nprint('loading', end='', file=sys.stderr)\n"
        "def add(a, b):\n    print('adding', a, b)\n    return a + b\n"
    )
    right = await arun_checked(noisy, spec, timeout_s=10)
    assert right.accepted and right.tally.passed == 2, right
    wrong = await arun_checked(noisy.replace("a + b", "a - b"), spec, timeout_s=10)
    assert not wrong.accepted and wrong.tally.passed == 0
    assert "expected: 3" in wrong.problem and "actual:   -1" in wrong.problem
