"""Which language a request is written in, so answers come back in it.

Small models asked to "answer in the language of the user" often answer in English
anyway; naming the language explicitly, in that language, works. `detect_language`
reads the prose of a request (code blocks and inline code left out, since code is
English whatever the user speaks) and scores common function words and accented
letters. Pure and cheap: a few microseconds for a paragraph, a bounded head of huge text.
"""

from __future__ import annotations

import re
from typing import Literal

from orquestra.language_words import ES_LETTERS, PT_LETTERS, SHARED_IBERIAN, WORDS

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
