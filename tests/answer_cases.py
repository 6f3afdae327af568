"""Requests with answers that can be checked, in Portuguese and English (none from a data set).

Each case: the request, its language, the value the final answer must contain. Used by
`bench/answers.py` (all of them, end to end on the embedded models) and by the embedded
lane of the tests (a few).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nodes.grounding import numbers
from orquestra.language import Language


@dataclass(frozen=True)
class AnswerCase:
    """A request and the value a right answer states."""

    request: str
    language: Language
    expected: str


CASES: tuple[AnswerCase, ...] = (
    AnswerCase(
        "Crie um script Python que soma os números de 1 a 10 e mostre o resultado", "pt", "55"
    ),
    AnswerCase("How many prime numbers are there below 10000? Compute it.", "en", "1229"),
    AnswerCase(
        "Planeje e execute: gere os 20 primeiros números primos e calcule a soma deles", "pt", "639"
    ),
    AnswerCase("Quanto é 2 elevado a 64? Calcule.", "pt", "18446744073709551616"),
    AnswerCase("Calculate the factorial of 20.", "en", "2432902008176640000"),
    AnswerCase(
        "Write a Python script that prints the 30th Fibonacci number, with F(1) = F(2) = 1.",
        "en",
        "832040",
    ),
    AnswerCase(
        "Crie um script que conta quantas vogais há na frase 'o rato roeu a roupa do rei de roma'",
        "pt",
        "16",
    ),
    AnswerCase("What is the greatest common divisor of 1071 and 462? Compute it.", "en", "21"),
    AnswerCase(
        "Plan and execute: find the sum of all the multiples of 3 or 5 below 1000.", "en", "233168"
    ),
    AnswerCase(
        "Planeje e execute: calcule a média dos números 4, 8, 15, 16, 23 e 42 e explique o "
        "resultado",
        "pt",
        "18",
    ),
    AnswerCase("Calcule a soma dos quadrados dos números de 1 a 100.", "pt", "338350"),
    AnswerCase("How many seconds are there in a leap year? Calculate it.", "en", "31622400"),
    AnswerCase(
        "Escreva uma função is_palindrome(s) que ignora maiúsculas e espaços e mostre o "
        "resultado de is_palindrome('Socorram me subi no onibus em Marrocos')",
        "pt",
        "True",
    ),
    AnswerCase(
        "Write a function that reverses the words of a sentence and print its result for "
        "'one two three'",
        "en",
        "three two one",
    ),
)


def states(answer: str, expected: str) -> bool:
    """Whether `answer` states `expected` (numbers compared without thousands separators)."""
    if not re.fullmatch(r"-?\d+(\.\d+)?", expected):
        return expected.lower() in answer.lower()
    wanted = float(expected)
    for number in numbers(answer):
        if re.fullmatch(r"\d{1,3}([.,]\d{3})+", number):  # 1,229 / 1.229: thousands
            candidates = {number.replace(",", "").replace(".", "")}
            if number.count(",") + number.count(".") == 1:
                candidates.add(number.replace(",", "."))  # or a decimal mark
        else:
            candidates = {number.replace(",", ".")}
        for candidate in candidates:
            try:
                if float(candidate) == wanted:
                    return True
            except ValueError:
                continue
    return False
