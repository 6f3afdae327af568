"""Requests with answers that can be checked, in Portuguese and English (none from a data set).

Each case: the request, its language, the value the final answer must contain. Used by
`bench/answers.py` (all of them, end to end on the embedded models) and by the embedded
lane of the tests (a few).

Beside right and wrong, what a person would write (reported by `bench/answers.py`):

- the result in the first sentence: the expected value is stated in the answer's first
  sentence of prose (code and quoted outputs left out), not only in a block further down;
- an explanation when asked: a request that asks why or how gets at least
  MIN_EXPLANATION_SENTENCES sentences of prose;
- no English sentence in a Portuguese or Spanish answer's prose, nor in its plan.

Each of those checks is `None` where it does not apply (no explanation asked, an English
request, no plan).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nodes.answer import asks_for_explanation
from nodes.grounding import numbers
from orquestra.language import Language, detect_language, language_scores, prose


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
    AnswerCase(  # what `make demo` asks
        "Planeje e execute: crie um script Python que soma os números de 1 a 10 e explique o "
        "resultado",
        "pt",
        "55",
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


# Sentences of prose an explanation has at least.
MIN_EXPLANATION_SENTENCES = 3
# Words a sentence needs to count as prose (a "Resultado:" title does not).
MIN_SENTENCE_WORDS = 3
# English evidence (weighted function words) that makes a sentence an English one.
ENGLISH_EVIDENCE = 2.0

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
# Where a clause ends inside a sentence ("One script that does: (1) definir ...").
_CLAUSE_END = re.compile(r"[:;]\s+")
_FENCED = re.compile(r"```.*?(```|\Z)", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]*)`")


def prose_sentences(text: str, *, inline_code: bool = False) -> list[str]:
    """The sentences of `text`'s prose, in order: code, quoted outputs and titles left out.

    With `inline_code`, a value written in backticks stays in its sentence ("retornou
    `True`" states True).
    """
    if inline_code:
        text = _INLINE_CODE.sub(r"\1", _FENCED.sub(" ", text))
    pieces = (piece.strip() for piece in _SENTENCE_END.split(prose(text)))
    return [piece for piece in pieces if len(piece.split()) >= MIN_SENTENCE_WORDS]


def result_first(answer: str, expected: str) -> bool:
    """Whether the first sentence of prose states the expected value."""
    sentences = prose_sentences(answer, inline_code=True)
    return bool(sentences) and states(sentences[0], expected)


def explained(answer: str, request: str) -> bool | None:
    """Whether an answer asked to explain has a few sentences of prose (None: not asked)."""
    if not asks_for_explanation(request):
        return None
    return len(prose_sentences(answer)) >= MIN_EXPLANATION_SENTENCES


def english_sentences(text: str) -> list[str]:
    """The sentences of `text`'s prose with an English clause in them."""
    return [
        sentence
        for sentence in prose_sentences(text)
        if any(_english(clause) for clause in _CLAUSE_END.split(sentence))
    ]


def _english(clause: str) -> bool:
    return detect_language(clause) == "en" and language_scores(clause)["en"] >= ENGLISH_EVIDENCE


def no_english(answer: str, language: Language) -> bool | None:
    """Whether a Portuguese or Spanish answer's prose has no English sentence."""
    return None if language == "en" else not english_sentences(answer)


def plan_in_language(plan: Mapping[str, Any] | None, language: Language) -> bool | None:
    """Whether a plan's goal and steps have no English sentence (None: no plan, or English)."""
    if language == "en" or not plan or not plan.get("steps"):
        return None
    texts = [str(plan.get("goal", "")), *(str(s.get("description", "")) for s in plan["steps"])]
    return not any(english_sentences(text) for text in texts)
