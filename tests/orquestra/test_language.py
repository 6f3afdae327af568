"""The language of a request: its prose, not its code, decides it."""

from __future__ import annotations

import pytest

from orquestra.language import detect_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Planeje e execute: gere os 20 primeiros números primos e calcule a soma deles", "pt"),
        ("Crie um script Python que soma os números de 1 a 10", "pt"),
        ("Quanto é 2 elevado a 100? Calcule.", "pt"),
        ("How many prime numbers are there below 10000? Compute it.", "en"),
        (
            "Complete esta função:\n```python\ndef f(x):\n    '''Return the double of x.'''\n```",
            "pt",
        ),
        ("Complete the following Python function:\n```python\ndef f(x): ...\n```", "en"),
        ("Escribe una función que calcule el factorial de un número", "es"),
        ("", "en"),
    ],
)
def test_the_language_of_the_prose_not_the_code(text: str, language: str) -> None:
    assert detect_language(text) == language
