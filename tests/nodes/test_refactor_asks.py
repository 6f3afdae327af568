"""What a refactoring request asks to be present, read from its words and the project."""

from __future__ import annotations

import pytest

from nodes.refactor_asks import RefactorAsk, asked_refactor, missing

BEFORE = {
    "solution.py": (
        "def poly(xs, x):\n    return sum(c * x**i for i, c in enumerate(xs))\n\n\n"
        "def find_zero(xs):\n    for x in range(10):\n        if poly(xs, x) == 0:\n"
        "            return x\n    return None\n"
    ),
    "test_solution.py": "from solution import find_zero, poly\n\n\ndef test_p():\n"
    "    assert poly([1], 0) == 1\n",
}


@pytest.mark.parametrize(
    ("request_", "ask"),
    [
        (
            "Rename the function `poly` of solution.py to `compute_poly` and update every use",
            RefactorAsk("rename", ("poly",), "compute_poly"),
        ),
        (
            "renomeie a função poly para avaliar_poly",
            RefactorAsk("rename", ("poly",), "avaliar_poly"),
        ),
        (
            "renombra poly a evaluar_poly en solution.py",
            RefactorAsk("rename", ("poly",), "evaluar_poly"),
        ),
        (
            "Split the module: move `poly` from solution.py into a new module helpers.py",
            RefactorAsk("move", ("poly",), "helpers.py"),
        ),
        (
            "mova poly de solution.py para util/polys.py",
            RefactorAsk("move", ("poly",), "util/polys.py"),
        ),
        (
            "In solution.py, extract the `for` loop of `find_zero` (`for x in range(10):`) into "
            "a new function named `scan_roots` and call `scan_roots` from `find_zero`",
            RefactorAsk("extract", ("find_zero",), "scan_roots", "loop"),
        ),
        (
            "extraia o if de find_zero para uma função chamada is_root",
            RefactorAsk("extract", ("find_zero",), "is_root", "branch"),
        ),
    ],
)
def test_the_ask_is_read_from_the_request_and_the_names_the_project_defines(
    request_: str, ask: RefactorAsk
) -> None:
    assert asked_refactor(request_, BEFORE) == ask
    assert RefactorAsk.from_dict(ask.as_dict()) == ask
    assert missing(ask, BEFORE, BEFORE)  # nothing done yet: something is missing


@pytest.mark.parametrize(
    "request_",
    ["clean up solution.py", "rename `nothing_here` to `x`", "move `poly` somewhere nicer"],
)
def test_a_request_that_names_no_structural_change_asks_none(request_: str) -> None:
    assert asked_refactor(request_, BEFORE) is None


def test_a_rename_is_done_only_when_the_old_name_is_gone_everywhere() -> None:
    ask = RefactorAsk("rename", ("poly",), "compute_poly")
    renamed = {p: t.replace("poly(", "compute_poly(") for p, t in BEFORE.items()}
    assert missing(ask, BEFORE, renamed) == ["`poly` is still used in test_solution.py"]
    renamed["test_solution.py"] = renamed["test_solution.py"].replace(
        "import find_zero, poly", "import compute_poly, find_zero"
    )
    assert missing(ask, BEFORE, renamed) == []


def test_a_move_needs_the_target_to_define_it_and_the_source_to_import_it() -> None:
    ask = RefactorAsk("move", ("poly",), "helpers.py")
    poly, rest = BEFORE["solution.py"].split("\n\n\n")
    not_imported = {"helpers.py": poly + "\n", "solution.py": rest}
    assert missing(ask, BEFORE, not_imported) == [
        "solution.py uses poly but does not import helpers"
    ]
    moved = {"helpers.py": poly + "\n", "solution.py": "from helpers import poly\n\n\n" + rest}
    assert missing(ask, BEFORE, moved) == []  # the tests may keep importing it from solution


def test_an_extracted_helper_must_be_called_and_hold_what_was_asked() -> None:
    ask = RefactorAsk("extract", ("find_zero",), "scan_roots", "loop")
    helper = "def scan_roots(xs):\n    return None\n\n\n"
    unused = {"solution.py": helper + BEFORE["solution.py"]}
    assert missing(ask, BEFORE, unused) == [
        "`find_zero` does not call `scan_roots`",
        "`scan_roots` holds no loop",
    ]
    done = {
        "solution.py": BEFORE["solution.py"].split("\n\n\n")[0]
        + "\n\n\ndef scan_roots(xs):\n    for x in range(10):\n        if poly(xs, x) == 0:\n"
        "            return x\n    return None\n\n\ndef find_zero(xs):\n    return scan_roots(xs)\n"
    }
    assert missing(ask, BEFORE, done) == []


def test_a_project_that_does_not_parse_lacks_everything() -> None:
    ask = RefactorAsk("move", ("poly",), "helpers.py")
    assert missing(ask, BEFORE, {**BEFORE, "helpers.py": "def poly(:\n"}) == [
        "helpers.py is missing or does not parse"
    ]
