"""Cases the brain derives from a specification with no example (CodeT-style checks)."""

from __future__ import annotations

from nodes.derived_checks import DERIVED_CASES, cases_from_reply
from tools.spec import read_spec

REQUEST = '''Complete the following Python function:
```python
def count_upper(s: str) -> int:
    """Count the upper-case letters of s."""
```'''


def test_plain_asserts_on_the_asked_function_become_cases() -> None:
    reply = (
        "```python\nassert count_upper('aBC') == 2\nassert count_upper('') == 0\n"
        "assert count_upper(s='Xy') == 1\n```"
    )
    cases = cases_from_reply(reply, read_spec(REQUEST))
    assert [(c.call, c.expected) for c in cases] == [
        ("count_upper('aBC')", "2"),
        ("count_upper('')", "0"),
        ("count_upper(s='Xy')", "1"),
    ]


def test_cases_that_are_not_plain_or_not_about_the_function_are_dropped() -> None:
    reply = (
        "```python\nassert count_upper(word) == 1\n"  # a name, not a value
        "assert count_upper('A') > 0\n"  # not an equality
        "assert len('abc') == 3\n"  # another function
        "assert count_upper('A') == len('A')\n"  # expected is not a literal
        "assert count_upper('AA') == 2\nassert count_upper('AA') == 3\n"  # repeated call
        "```"
    )
    cases = cases_from_reply(reply, read_spec(REQUEST))
    assert [(c.call, c.expected) for c in cases] == [("count_upper('AA')", "2")]


def test_a_case_contradicting_the_request_s_own_example_is_dropped_and_the_count_bounded() -> None:
    spec = read_spec(REQUEST.replace("of s.", "of s.\n    >>> count_upper('AB')\n    2"))
    asserts = "\n".join(f"assert count_upper('{'A' * n}') == {n}" for n in range(1, 9))
    reply = f"```python\nassert count_upper('AB') == 1\n{asserts}\n```"
    cases = cases_from_reply(reply, spec)
    assert "count_upper('AB')" not in [c.call for c in cases]
    assert len(cases) == DERIVED_CASES
    assert cases_from_reply("no code here (", spec) == ()
