"""The sentence a code answer opens with: kept only when it says what ran, in the right language."""

from __future__ import annotations

from nodes.result_sentence import (
    lead_problem,
    opened_with_result,
    plain_sentence,
    printed_result,
    states_result,
)

REQUEST = "Calcule a soma dos quadrados dos números de 1 a 100."
SOURCES = ["338350\n", REQUEST]


def lead_ok(text: str, output: str = "338350\n", *, explain: bool = False) -> bool:
    return not lead_problem(text, output, [output, REQUEST], "pt", explain=explain)


def test_a_sentence_that_states_the_printed_result_in_the_request_language_is_kept() -> None:
    assert lead_ok("A soma dos quadrados dos números de 1 a 100 é 338350.")
    assert lead_ok("A soma dos quadrados de 1 a 100 é 338.350.")  # grouped as people write it


def test_a_sentence_is_refused_when_it_misstates_strays_or_changes_language() -> None:
    assert not lead_ok("A soma dos quadrados dos números de 1 a 100 é 338500.")
    assert not lead_ok("A soma é 338350, ou seja, 5050 ao quadrado menos 12.")  # 5050: unprinted
    assert not lead_ok("The sum of the squares of the numbers from 1 to 100 is 338350.")
    assert not lead_ok("```python\nprint(338350)\n```")
    assert not lead_ok("")


def test_an_explanation_may_be_longer_than_a_sentence_but_not_endless() -> None:
    explained = (
        "A soma dos quadrados de 1 a 100 é 338350. O código percorre os números de 1 a 100, "
        "eleva cada um ao quadrado e soma os resultados. No fim, imprime o total."
    )
    assert not lead_ok(explained * 2)  # longer than one sentence may be
    assert lead_ok(explained * 2, explain=True)
    assert not lead_ok(explained * 20, explain=True)


def test_a_result_in_words_is_stated_by_its_last_line() -> None:
    assert states_result("Sim, a frase é um palíndromo: True.", "True\n")
    assert not states_result("Sim, é um palíndromo.", "True\n")
    assert states_result("São 16 vogais.", "Vogais: 16\n")


def test_the_plain_sentence_restates_one_short_line_only() -> None:
    assert plain_sentence("338350\n", "pt") == "O resultado é 338350."
    assert plain_sentence("18.0\n", "en") == "The result is 18.0."
    assert plain_sentence("1\n2\n", "es") == ""
    assert plain_sentence("Vogais: 16\n", "pt") == "O resultado é 16."
    assert plain_sentence("True\n", "pt") == "O resultado é True."
    assert plain_sentence("three two one\n", "en") == "The result is three two one."
    # A printed sentence in the request's language is the sentence; numbers in words are not.
    assert plain_sentence("A média dos números é: 18.0\n", "pt") == "A média dos números é: 18.0."
    assert plain_sentence("There are 1229 primes below 10000\n", "pt") == ""
    assert printed_result("x" * 500) == ""


def test_an_answer_that_reaches_the_result_late_is_led_by_it() -> None:
    late = "O código soma os números de 1 a 10 com um laço. No fim imprime 55."
    assert opened_with_result(late, "55\n", "pt") == f"O resultado é 55. {late}"
    early = "A soma é 55. O código usa um laço."
    assert opened_with_result(early, "55\n", "pt") == early
    assert opened_with_result(late, "1 2\n3 4\n", "pt") == late  # nothing to say in a sentence


def test_an_explanation_of_one_sentence_is_not_an_explanation() -> None:
    assert not lead_ok("A soma dos quadrados de 1 a 100 é 338350.", explain=True)


def test_why_a_lead_is_not_kept_is_said() -> None:
    assert lead_problem("A soma é 338500.", "338350\n", SOURCES, "pt", explain=False) == (
        "it does not state the printed result"
    )
    wrong = "A soma é 338350, e 5050 é outra coisa."
    assert lead_problem(wrong, "338350\n", SOURCES, "pt", explain=False) == (
        "it states 5050, which nothing printed"
    )
    assert lead_problem("A soma é 338350.", "338350\n", SOURCES, "pt", explain=True) == (
        "it has 1 sentence(s)"
    )
