"""Answers grounded in what ran, in the request's language; plans without busywork."""

from __future__ import annotations

from typing import Any

import pytest

from nodes.answer import asks_for_explanation, chosen_runs, code_answer, quoted_outputs
from nodes.grounding import corrected_arithmetic, same_result, ungrounded_numbers, without_numbers
from nodes.plan import tidy_plan


def run(step: int, attempt: int, stdout: str, accepted: bool, **extra: Any) -> dict[str, Any]:
    return {
        "step": step,
        "attempt": attempt,
        "iteration": 0,
        "code": f"print({stdout!r})",
        "stdout": stdout,
        "stderr": "",
        "exit_code": 0 if accepted else 1,
        "timed_out": False,
        "accepted": accepted,
        "checks": {"passed": int(accepted), "total": 1},
        "kind": "script",
        **extra,
    }


def test_the_run_that_counts_is_the_last_accepted_one_of_each_step() -> None:
    runs = [
        run(1, 1, "77\n", True),
        run(1, 2, "639\n", True),
        run(2, 1, "oops", False),
        run(2, 2, "", False),
    ]
    chosen = chosen_runs(runs)
    assert chosen[1]["stdout"] == "639\n"
    assert chosen[2]["attempt"] == 1  # nothing accepted: the best (here: first) of the round


def test_numbers_no_run_printed_are_ungrounded() -> None:
    sources = ["639\n", "Gere os 20 primeiros números primos e calcule a soma"]
    assert ungrounded_numbers("A soma dos 20 primeiros primos é 639.", sources) == []
    assert ungrounded_numbers("A soma é 77.", sources) == ["77"]
    assert ungrounded_numbers("São 1,229 primos (1.229).", ["1229\n"]) == []
    assert ungrounded_numbers("Step 2 of 3 printed 5.0", ["5\n"]) == []
    assert ungrounded_numbers("A soma é 180 e a média 18.0", ["18.0\n"]) == ["180"]


def test_the_code_answer_leads_with_the_result_in_the_request_language() -> None:
    runs = [run(1, 1, "55\n", True)]
    pt = code_answer(runs, "pt", 3)
    assert pt.startswith("O resultado é 55.\n\nCódigo:\n```python")
    en = code_answer(runs, "en", 3, lead="The sum of 1 to 10 is 55.")
    assert en.startswith("The sum of 1 to 10 is 55.\n\nCode:")
    # An output of several lines is quoted whole after the sentence.
    table = [run(1, 1, "1 1\n2 4\n3 9\n", True)]
    assert code_answer(table, "es", 3).startswith("Resultado:\n```\n1 1\n2 4\n3 9\n```")


def test_outputs_are_quoted_only_for_accepted_runs() -> None:
    assert "639" in quoted_outputs([run(1, 1, "639\n", True)], "en")
    assert quoted_outputs([run(1, 1, "boom", False)], "en") == ""


def test_plans_lose_busywork_and_repeats_and_code_steps_become_one_script() -> None:
    steps = [
        {"description": "Open a text editor", "needs_code": False},
        {"description": "Generate the first 20 primes", "needs_code": True},
        {"description": "Generate the first 20 primes.", "needs_code": True},
        {"description": "Save the file as primes.py", "needs_code": False},
        {"description": "Sum the primes", "needs_code": True},
        {"description": "Run the script", "needs_code": False},
        {"description": "Explain the result", "needs_code": False},
    ]
    tidy = tidy_plan(steps, "request")
    assert tidy == [
        {
            "description": "One script that does: (1) Generate the first 20 primes; "
            "(2) Sum the primes.",
            "needs_code": True,
        },
        {"description": "Explain the result", "needs_code": False},
    ]
    assert tidy_plan([], "do it") == [{"description": "do it", "needs_code": True}]
    pt = tidy_plan(
        [
            {"description": "definir uma função que gera primos", "needs_code": True},
            {"description": "somar os 20 primeiros", "needs_code": True},
        ],
        "Planeje e execute: some os 20 primeiros primos",
        "pt",
    )
    assert pt[0]["description"] == (
        "Um único script que faz: (1) definir uma função que gera primos; "
        "(2) somar os 20 primeiros."
    )


def test_two_outputs_agree_when_they_state_the_same_result() -> None:
    assert same_result("639\n", "The sum is 639.")
    assert same_result("1,229 primes", "1229")
    assert same_result("média: 18,0", "18.0")
    assert not same_result("77", "639")
    assert same_result("True", "true") and not same_result("True", "False")


def test_arithmetic_written_out_correctly_grounds_its_numbers() -> None:
    request = "calcule a média dos números 4, 8, 15, 16, 23 e 42"
    right = "A soma é 4 + 8 + 15 + 16 + 23 + 42 = 108, e 108 / 6 = 18.0."
    assert ungrounded_numbers(right, ["18.0\n", request]) == []
    wrong = "A soma é 180 (4 + 8 + 15 + 16 + 23 + 42 = 180)."
    assert ungrounded_numbers(wrong, ["18.0\n", request]) == ["180"]
    assert ungrounded_numbers("366 \u00d7 86400 = 31622400 segundos", ["31622400\n"]) == []


def test_only_the_sentences_with_ungrounded_numbers_are_dropped() -> None:
    answer = (
        "A média soma os números e divide pela quantidade deles. A soma é 180. "
        "O resultado impresso foi 18.0, a média pedida."
    )
    kept = without_numbers(answer, ["180"])
    assert "180" not in kept and "divide pela quantidade" in kept and "18.0" in kept
    assert without_numbers("A soma é 180.", ["180"]) == ""


def test_written_out_whole_number_arithmetic_is_recomputed_along_the_chain() -> None:
    wrong = "A soma 4 + 8 + 15 + 16 + 23 + 42 = 100, e 100 / 6 = 18.0."
    assert (
        corrected_arithmetic(wrong) == "A soma 4 + 8 + 15 + 16 + 23 + 42 = 108, e 108 / 6 = 18.0."
    )
    assert corrected_arithmetic("366 x 86400 = 31622400") == "366 x 86400 = 31622400"
    assert corrected_arithmetic("10 - 20 = 10") == "10 - 20 = -10"
    assert corrected_arithmetic("1,5 + 1 = 3") == "1,5 + 1 = 3"  # a decimal comma: left alone
    assert corrected_arithmetic("x = 5, no arithmetic") == "x = 5, no arithmetic"
    assert corrected_arithmetic("1 + 1 = 1.2.3") == "1 + 1 = 1.2.3"  # not a number: kept


@pytest.mark.parametrize(
    ("request_", "asks"),
    [
        ("Planeje e execute: calcule a média e explique o resultado", True),
        ("Explain why the sum is even", True),
        ("Explica el resultado", True),
        ("Calcule a soma dos quadrados de 1 a 100", False),
        ("Compute the factorial of 20.", False),
    ],
)
def test_requests_that_ask_for_an_explanation(request_: str, asks: bool) -> None:
    assert asks_for_explanation(request_) is asks
