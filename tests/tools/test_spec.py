"""Reading what a request specifies: functions, definitions and examples in every shape."""

from __future__ import annotations

import pytest

from tools.spec import definitions_only, literal, read_spec

STUB = '''def add(a, b):
    """Add two numbers.
    >>> add(1, 2)
    3
    >>> add(-1, 1)
    0
    """
'''


def test_doctest_examples_become_checks_with_their_request_line() -> None:
    request = f"Complete the following Python function:\n```python\n{STUB}```"
    spec = read_spec(request)
    assert [f.name for f in spec.targets] == ["add"] and spec.functions[0].stub
    assert [(e.call, e.expected) for e in spec.examples] == [
        ("add(1, 2)", "3"),
        ("add(-1, 1)", "0"),
    ]
    lines = request.splitlines()
    assert all(e.call in lines[e.line - 1] for e in spec.examples)


@pytest.mark.parametrize(
    ("line", "call", "expected"),
    [
        ("f([1, 2]) == [2, 1]", "f([1, 2])", "[2, 1]"),
        ("f('ab') => 'ba'", "f('ab')", "'ba'"),
        ("f(3) ➞ True", "f(3)", "True"),
        ("f(3) ==> false", "f(3)", "False"),
        ("f(8) -> 19 - 5 - 6 = 8", "f(8)", "8"),
        ('f(15)   # returns "db1111db"', "f(15)", "'db1111db'"),
        ("f(2) should return 4.", "f(2)", "4"),
        ("f(2) deve retornar 4", "f(2)", "4"),
        ("f(1, 2) == (1.0, 2.0)", "f(1, 2)", "(1.0, 2.0)"),
    ],
)
def test_inline_examples_in_the_shapes_people_write(line: str, call: str, expected: str) -> None:
    request = f'def f(x, y=0):\n    """Do it.\n    {line}\n    """\n'
    [example] = read_spec(request).examples
    assert (example.call, example.expected) == (call, expected)


def test_examples_with_undefined_names_are_left_out_not_guessed() -> None:
    request = 'def is_happy(s):\n    """For example:\n    is_happy(a) => False\n    """\n'
    assert read_spec(request).examples == ()


def test_input_output_pairs_and_for_assignments() -> None:
    request = (
        "def pluck(arr):\n"
        '    """Example 1:\n'
        "        Input: [4,2,3]\n"
        "        Output: [2, 1]\n"
        '    For arr = [1, 2] the output should be [2, 1].\n    """\n'
    )
    examples = read_spec(request).examples
    assert [(e.call, e.expected) for e in examples] == [
        ("pluck([4, 2, 3])", "[2, 1]"),
        ("pluck(arr=[1, 2])", "[2, 1]"),
    ]


def test_helpers_in_the_request_are_definitions_not_targets() -> None:
    request = (
        "def encode(s):\n    return s[::-1]\n\n"
        'def decode(s):\n    """Inverse of encode.\n'
        '    >>> decode(encode("ab"))\n    \'ab\'\n    """\n'
    )
    spec = read_spec(request)
    assert [f.name for f in spec.targets] == ["decode"]
    assert "def encode" in spec.code
    assert spec.examples[0].call == 'decode(encode("ab"))'


def test_prose_requests_without_code_are_script_tasks() -> None:
    spec = read_spec("Quantos números primos existem abaixo de 10000? Calcule.")
    assert not spec.is_function_task and spec.examples == ()


def test_values_are_plain_data_only() -> None:
    assert literal("[1, -2.5, 'a', (True, None)]") == [1, -2.5, "a", (True, None)]
    assert literal("2 ** 10 + 1") == 1025
    with pytest.raises(ValueError):
        literal("__import__('os').system('id')")
    with pytest.raises(ValueError):
        literal("9 ** 999999")


def test_definitions_only_drops_example_calls_tests_and_main_blocks() -> None:
    code = (
        "import math\n\ndef f(x):\n    # why\n    return x\n\nprint(f(2))\nassert f(1) == 3\n"
        "if __name__ == '__main__':\n    f(input())\nLIMIT = 3\n"
    )
    kept = definitions_only(code)
    assert "import math" in kept and "# why" in kept and "LIMIT = 3" in kept
    assert "print(f(2))" not in kept and "assert" not in kept and "input()" not in kept
    assert definitions_only("def broken(:\n") == "def broken(:\n"
