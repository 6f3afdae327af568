"""Phrase matching over tokens: one linear pass finds every vocabulary phrase in a text.

Vocabularies are written compactly with a tiny pattern syntax (`optimi[sz]e`,
`class(es)?`, `what('s| is)`, `a|b`), expanded once at import into plain phrases, then
indexed by first token. Matching walks the text's tokens once and looks each up in a
dict, so classification time is linear in the input with a small constant, unlike a
backtracking regex per vocabulary.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# Words, with inner apostrophes, dots and hyphens ("what's", "node.js", "apt-get",
# "x-files") and trailing + or # ("c++", "c#"); "$path" keeps its dollar.
TOKEN = re.compile(r"[a-z0-9_$]+(?:[+#]+|(?:['.-][a-z0-9_$]+)+)?")

Phrase = tuple[str, ...]


def _alternatives(pattern: str, pos: int) -> tuple[list[str], int]:
    """Parse `seq ('|' seq)*` from `pos`; return the expansions and the position after."""
    results: list[str] = []
    current = [""]
    i = pos
    while i < len(pattern) and pattern[i] != ")":
        ch = pattern[i]
        if ch == "|":
            results += current
            current = [""]
            i += 1
            continue
        if ch == "(":
            options, i = _alternatives(pattern, i + 1)
            i += 1  # the closing parenthesis
        elif ch == "[":
            end = pattern.index("]", i)
            options, i = list(pattern[i + 1 : end]), end + 1
        elif ch == "\\":
            options, i = [pattern[i + 1]], i + 2
        else:
            options, i = [ch], i + 1
        if i < len(pattern) and pattern[i] == "?":
            options, i = [*options, ""], i + 1
        current = [head + tail for head in current for tail in options]
    return results + current, i


def expand(pattern: str) -> list[str]:
    """Every phrase a compact pattern stands for: `optimi[sz]e` → optimise, optimize."""
    phrases, end = _alternatives(pattern, 0)
    if end != len(pattern):
        raise ValueError(f"unbalanced parenthesis in vocabulary pattern {pattern!r}")
    return [p.strip() for p in phrases if p.strip()]


def tokens(text: str) -> list[str]:
    """The tokens of a normalised (lowercase ASCII) text."""
    return TOKEN.findall(text)


@dataclass(frozen=True)
class Hit:
    """One vocabulary phrase found at tokens[start:end]."""

    vocab: str
    start: int
    end: int


class PhraseIndex:
    """Several named vocabularies, indexed by first token for a single-pass scan."""

    def __init__(self, vocabularies: Mapping[str, str]) -> None:
        self._by_first: dict[str, list[tuple[Phrase, str]]] = defaultdict(list)
        for name, pattern in vocabularies.items():
            for phrase in expand(pattern):
                words = tuple(tokens(phrase))
                if words:
                    self._by_first[words[0]].append((words, name))

    def scan(self, words: Sequence[str]) -> dict[str, list[Hit]]:
        """Every phrase of every vocabulary in `words`, by vocabulary, in order."""
        found: dict[str, list[Hit]] = defaultdict(list)
        n = len(words)
        for i, word in enumerate(words):
            for phrase, name in self._by_first.get(word, ()):
                end = i + len(phrase)
                if end <= n and (len(phrase) == 1 or tuple(words[i:end]) == phrase):
                    found[name].append(Hit(name, i, end))
        return found


def near(first: Iterable[Hit], second: Iterable[Hit], gap: int) -> bool:
    """Whether some `second` hit starts at most `gap` tokens after some `first` hit ends."""
    ends = sorted(h.end for h in first)
    starts = sorted(h.start for h in second)
    j = 0
    for start in starts:
        while j < len(ends) and ends[j] <= start - gap - 1:
            j += 1
        # ends[j] is the first end within reach; it must not be after the start.
        if j < len(ends) and ends[j] <= start:
            return True
    return False
