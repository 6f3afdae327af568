"""Which language a request is written in, so answers come back in it.

Small models asked to "answer in the language of the user" often answer in English
anyway; naming the language explicitly, in that language, works. `detect_language`
reads the prose of a request (code blocks and inline code left out, since code is
English whatever the user speaks) and scores common function words and accented
letters. Pure and cheap: a few microseconds for a paragraph, a bounded head of huge text.

The evidence it weighs closes the module: frequent words that are (almost) only one
language's, words the two Iberian languages share, letters and endings only Portuguese or
only Spanish writes.
"""

from __future__ import annotations

import re
from typing import Literal

Language = Literal["en", "pt", "es"]
DEFAULT_LANGUAGE: Language = "en"

# How much of a request is read (the start says what language it is in).
MAX_CHARS = 4000
# Words needed before a language other than the default is chosen.
MIN_EVIDENCE = 1.0

_FENCED = re.compile(r"(```|~~~).*?(\1|\Z)", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_DOCTEST_OR_CODE_LINE = re.compile(
    r"^\s*(>>>|\.\.\.|def |class |import |from \S+ import |return |#).*$", re.MULTILINE
)
_WORD = re.compile(r"[a-zà-öø-ÿ]+")

# The instruction that makes a model answer in a language, written in that language.
ANSWER_IN: dict[Language, str] = {
    "en": "Answer in English.",
    "pt": "Responda em português (do Brasil), mesmo que o código esteja em inglês.",
    "es": "Responde en español, aunque el código esté en inglés.",
}
NAMES: dict[Language, str] = {"en": "English", "pt": "Portuguese", "es": "Spanish"}


def prose(text: str) -> str:
    """`text` without code: fenced blocks, inline code, doctest and code lines."""
    text = _FENCED.sub(" ", text[: MAX_CHARS * 4])
    text = _INLINE_CODE.sub(" ", text)
    return _DOCTEST_OR_CODE_LINE.sub(" ", text)[:MAX_CHARS]


def language_scores(text: str) -> dict[Language, float]:
    """Evidence for each language in `text`'s prose."""
    body = prose(text).lower()
    scores: dict[Language, float] = {"en": 0.0, "pt": 0.0, "es": 0.0}
    for word in _WORD.findall(body):
        for language, words in WORDS.items():
            if word in words and not (language != "en" and word in SHARED_IBERIAN):
                scores[language] += words[word]
        if word in SHARED_IBERIAN:
            scores["pt"] += 0.5
            scores["es"] += 0.5
    scores["pt"] += 2.0 * len(PT_LETTERS.findall(body))
    scores["es"] += 2.0 * len(ES_LETTERS.findall(body))
    return scores


def detect_language(text: str) -> Language:
    """The language of `text`'s prose: `pt`, `es` or `en` (the default when unsure)."""
    scores = language_scores(text)
    best = max(scores, key=lambda language: scores[language])
    if best == DEFAULT_LANGUAGE or scores[best] < MIN_EVIDENCE:
        return DEFAULT_LANGUAGE
    return best if scores[best] > scores[DEFAULT_LANGUAGE] else DEFAULT_LANGUAGE


# ---------------------------------------------------------------------------------------
# The evidence: function words and letters of each language

# Frequent words that are (almost) only one of the languages; weights are the evidence.
WORDS: dict[Language, dict[str, float]] = {
    "pt": dict.fromkeys(
        [
            "não",
            "nao",
            "você",
            "voce",
            "vocês",
            "uma",
            "umas",
            "uns",
            "dos",
            "das",
            "nos",
            "nas",
            "pelo",
            "pela",
            "pelos",
            "pelas",
            "para",
            "com",
            "como",
            "isso",
            "esse",
            "essa",
            "este",
            "esta",
            "está",
            "esta",
            "são",
            "sao",
            "também",
            "tambem",
            "qual",
            "quais",
            "quanto",
            "quantos",
            "quantas",
            "quando",
            "onde",
            "porque",
            "então",
            "entao",
            "mais",
            "muito",
            "muita",
            "seu",
            "sua",
            "meu",
            "minha",
            "ele",
            "ela",
            "eles",
            "elas",
            "foi",
            "ser",
            "ter",
            "tem",
            "fazer",
            "faça",
            "crie",
            "escreva",
            "calcule",
            "gere",
            "mostre",
            "explique",
            "planeje",
            "execute",
            "implemente",
            "números",
            "numeros",
            "número",
            "numero",
            "primeiros",
            "soma",
            "resultado",
            "função",
            "funcao",
            "arquivo",
            "código",
            "codigo",
            "lista",
            "valor",
            "olá",
            "ola",
            "obrigado",
            "obrigada",
            "bom",
            "dia",
            "boa",
            "tarde",
            "noite",
            "tudo",
            "bem",
            "e",
            "o",
            "a",
            "os",
            "as",
            "de",
            "do",
            "da",
            "em",
            "no",
            "na",
            "que",
            "se",
            "um",
            "ao",
            "aos",
            "às",
        ],
        1.0,
    ),
    "es": dict.fromkeys(
        [
            "el",
            "los",
            "las",
            "del",
            "una",
            "unos",
            "unas",
            "por",
            "para",
            "con",
            "como",
            "esto",
            "este",
            "esta",
            "está",
            "son",
            "también",
            "cuál",
            "cuáles",
            "cuánto",
            "cuántos",
            "cuándo",
            "dónde",
            "porque",
            "entonces",
            "más",
            "muy",
            "hola",
            "gracias",
            "escribe",
            "calcula",
            "genera",
            "muestra",
            "explica",
            "planifica",
            "números",
            "número",
            "primeros",
            "suma",
            "resultado",
            "función",
            "archivo",
            "código",
            "lista",
            "qué",
            "y",
            "ya",
            "tus",
            "archivos",
            "prueba",
            "pruebas",
            "pasan",
            "fallan",
            "siguen",
            "después",
            "ningún",
            "cambio",
            "hecho",
        ],
        1.0,
    ),
    "en": dict.fromkeys(
        [
            "the",
            "of",
            "and",
            "to",
            "is",
            "are",
            "was",
            "were",
            "what",
            "how",
            "many",
            "much",
            "which",
            "who",
            "why",
            "when",
            "where",
            "this",
            "that",
            "these",
            "those",
            "with",
            "for",
            "from",
            "by",
            "it",
            "its",
            "be",
            "been",
            "have",
            "has",
            "do",
            "does",
            "write",
            "compute",
            "calculate",
            "create",
            "generate",
            "show",
            "explain",
            "plan",
            "execute",
            "implement",
            "numbers",
            "number",
            "first",
            "sum",
            "result",
            "function",
            "file",
            "code",
            "list",
            "value",
            "hello",
            "thanks",
            "please",
            "can",
            "could",
            "would",
            "should",
            "you",
            "your",
            "my",
            "i",
            "a",
            "an",
            "in",
            "on",
        ],
        1.0,
    ),
}
# Words both Iberian languages share: they point away from English, not to one of them.
SHARED_IBERIAN = frozenset(
    ["para", "com", "como", "porque", "resultado", "lista", "código", "codigo"]
)
PT_LETTERS = re.compile(r"[ãõç]|ção|ções")
ES_LETTERS = re.compile(r"[ñ¿¡]|ción|ciones")
