"""The checks of what a person would write, which bench/answers.py reports."""

from __future__ import annotations

from tests.answer_cases import (
    english_sentences,
    explained,
    no_english,
    plan_in_language,
    prose_sentences,
    result_first,
)

STOCK = (
    "O código rodou e a saída responde ao pedido. O código dos dois modelos imprimiu este "
    "resultado.\n\nResultado:\n```\n338350\n```\n\nCódigo:\n```python\nprint(338350)\n```"
)
PERSON = "A soma dos quadrados de 1 a 100 é 338350.\n\nCódigo:\n```python\nprint(338350)\n```"


def test_the_result_must_open_the_prose_not_sit_in_a_block_below() -> None:
    assert result_first(PERSON, "338350")
    assert not result_first(STOCK, "338350")
    assert prose_sentences(PERSON) == ["A soma dos quadrados de 1 a 100 é 338350."]
    # A value in backticks is still stated; a fenced block is not prose.
    assert result_first("A função `is_palindrome` retornou `True` para a frase.", "True")
    assert not result_first("Veja:\n```\nTrue\n```\nEsta é a resposta da função.", "True")


def test_an_explanation_is_a_few_sentences_and_only_checked_when_asked() -> None:
    request = "Calcule a média de 4, 8 e 15 e explique o resultado"
    one = "A média é 9."
    three = (
        "A média é 9. O código soma os três números e obtém 27. "
        "Depois divide essa soma por 3, a quantidade de números."
    )
    assert explained(one, request) is False
    assert explained(three, request) is True
    assert explained(one, "Calcule a média de 4, 8 e 15") is None


def test_an_english_sentence_in_portuguese_prose_is_found_and_code_is_not_prose() -> None:
    mixed = "A média é 9. The code adds the numbers and divides the sum by three."
    assert english_sentences(mixed) == ["The code adds the numbers and divides the sum by three."]
    assert no_english(mixed, "pt") is False
    assert no_english(PERSON + "\n```python\nfor value in values: print(value)\n```", "pt")
    assert no_english(mixed, "en") is None


def test_a_plan_is_checked_step_by_step() -> None:
    english = {
        "goal": "Somar os primos",
        "steps": [{"description": "One script that does: (1) definir uma função; (2) somar."}],
    }
    portuguese = {
        "goal": "Somar os primos",
        "steps": [{"description": "Um único script que faz: (1) definir uma função; (2) somar."}],
    }
    assert plan_in_language(english, "pt") is False
    assert plan_in_language(portuguese, "pt") is True
    assert plan_in_language(None, "pt") is None
