"""The checks' wire format: what the candidate's process writes, the checker reads as data only."""

from __future__ import annotations

import ast
import enum
import json
from collections import OrderedDict, namedtuple
from typing import Any

import pytest

from tools.checks import check_program, check_secret
from tools.harness.candidate import encode
from tools.harness.checker import Call, decode, failure, same
from tools.spec import read_spec

PLAIN = [
    None,
    True,
    0,
    -7,
    3**5000,  # past the interpreter's limit on decimal digits
    1.5,
    float("inf"),
    -0.0,
    complex(1, -2),
    "é\n\udcff",
    b"\x00\xff",
    [1, (2, "x"), [None]],
    (),
    {"a": [1.0], 2: {"b": b""}, (1, 2): frozenset({3})},
    {1, "two", (3,)},
]


def _wire(value: Any) -> Any:
    return decode(json.loads(json.dumps(encode(value))))


@pytest.mark.parametrize("value", PLAIN, ids=repr)
def test_a_plain_value_crosses_the_wire_unchanged(value: Any) -> None:
    back = _wire(value)
    assert back == value and type(back) is type(value)
    assert repr(back) == repr(value)


def test_look_alikes_of_plain_values_cross_as_those_values() -> None:
    Pair = namedtuple("Pair", "a b")
    Colour = enum.IntEnum("Colour", {"RED": 1})

    class Indexable:
        def __index__(self) -> int:
            return 5

    class ArrayLike:
        def tolist(self) -> list[float]:
            return [0.5, 1.5]

    value = [Pair(1, 2), Colour.RED, OrderedDict(k=bytearray(b"z")), Indexable(), ArrayLike()]
    assert _wire(value) == [(1, 2), 1, {"k": b"z"}, 5, [0.5, 1.5]]


def test_an_object_that_claims_to_equal_everything_equals_nothing() -> None:
    class Anything:
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = object.__hash__

    assert encode(Anything()) == ["opaque"]
    for expected in (0, "x", [1], None, 2.5):
        assert not same(_wire(Anything()), expected)
    assert not same(_wire([Anything()]), [0])


@pytest.mark.parametrize(
    "forged",
    [
        ["int"],
        ["int", 3],
        ["float", 1.0],
        ["eval", "__import__('os')"],
        ["list", "abc"],
        ["dict", [[["int", "1"]]]],
        ["set", [["list", []]]],
        "not a node",
    ],
)
def test_a_reply_that_encode_never_writes_is_refused(forged: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        decode(forged)


def test_nesting_past_the_limit_is_refused_not_recursed() -> None:
    node: list[Any] = ["none"]
    for _ in range(200):
        node = ["list", [node]]
    with pytest.raises(ValueError):
        decode(node)


def test_floats_compare_within_the_tolerance_and_containers_by_kind() -> None:
    assert same(0.1 + 0.2, 0.3) and same([1, 2.0000000001], [1, 2.0])
    assert not same(2.5, 2.6) and not same("2.5", 2.5) and not same(float("nan"), float("nan"))
    assert not same((1, 2), [1, 2]) and same({"a": 1.0000000001}, {"a": 1.0})


def test_a_failure_names_the_line_call_expected_and_actual() -> None:
    call = Call(line=7, setup=[], call="f(2)", as_text=False)
    wrong = {"value": encode(5), "shown": "5"}
    message = failure(call, "4", wrong)
    assert message == "Check failed (line 7 of the request): f(2)\n  expected: 4\n  actual:   5"
    assert failure(call, "5", wrong) is None
    raised = failure(call, "4", {"raised": "ZeroDivisionError: division by zero"})
    assert raised is not None and raised.endswith("raised:   ZeroDivisionError: division by zero")
    text = Call(line=7, setup=[], call="f(2)", as_text=True)
    assert failure(text, "a  b", {"texts": ["a b\n"], "shown": "'a b'"}) is None


def test_the_nonce_and_the_expected_values_travel_apart_from_the_program() -> None:
    spec = read_spec(
        "```python\ndef f(x: int) -> int:\n"
        '    """Shifted.\n    >>> f(9817)\n    5550123\n    """\n```'
    )
    text = check_program("def f(x):\n    return x\n", spec)
    ast.parse(text)
    assert "f(9817)" in text
    secret = json.loads(check_secret(spec, "n0nce"))
    assert secret == {"nonce": "n0nce", "expected": ["5550123"]}
