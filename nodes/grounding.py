"""Numbers in answers: which ones what ran grounds, and written-out arithmetic put right.

Pure functions over text. An answer may only state numbers that some run printed or that
the request or plan already contain (`ungrounded_numbers`, `without_numbers`); arithmetic
it writes out is recomputed (`corrected_arithmetic`); two outputs agree when they state
the same numbers (`same_result`), however each one writes them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from tools.spec import literal

# Numbers in an answer: integers and decimals, with "." or "," as the decimal mark.
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:[.,]\d+)*(?![\w])")
# Numbers this small are ordinals and counts of prose ("step 2", "3 runs"): not checked.
UNCHECKED_BELOW = 10
# Arithmetic written out in an answer: "4 + 8 + 15 = 27", "366 x 86400 = 31622400".
TIMES, DIVIDED = "\u00d7", "\u00f7"
_DERIVATION = re.compile(
    r"(?P<expr>\(?-?\d[\d.,]*(?:\s*(?:[-+*/x\u00d7\u00f7]|\*\*)\s*\(?-?\d[\d.,]*\)?)+)\s*=\s*"
    r"(?P<result>-?\d[\d.,]*\d|-?\d)"
)
# What is left of an answer once its ungrounded sentences go must say something.
MIN_KEPT_WORDS = 6


def numbers(text: str) -> list[str]:
    """The numbers written in `text`, normalised (`1.229` and `1,229` stay as written)."""
    return [m.group().lstrip("-") for m in _NUMBER.finditer(text)]


def _spellings(number: str) -> set[str]:
    """Ways the same number may be printed: `1,229` / `1.229` / `1229`, `2.0` / `2` / `2,0`."""
    forms = {number, number.replace(",", "."), number.replace(".", ",")}
    if re.fullmatch(r"\d{1,3}([.,]\d{3})+", number):  # thousands groups, either mark
        forms.add(number.replace(",", "").replace(".", ""))
    if re.fullmatch(r"\d+[.,]0+", number):
        forms.add(re.split(r"[.,]", number)[0])
    return forms


def states_number(text: str, number: str) -> bool:
    """Whether `text` writes `number` (in any of the ways it may be printed)."""
    forms = _spellings(number.lstrip("-"))
    return any(_spellings(n) & forms for n in numbers(text))


def same_result(first: str, second: str) -> bool:
    """Whether two outputs state the same result: the same numbers, or the same words."""
    a, b = numbers(first), numbers(second)
    if a or b:
        return [_value(n) for n in a] == [_value(n) for n in b]
    return " ".join(first.lower().split()) == " ".join(second.lower().split())


def _value(number: str) -> float | str:
    """A printed number's value (`1,229` thousands, `2,5` decimal comma), or the text."""
    plain = number.replace(",", "").replace(".", "")
    if re.fullmatch(r"\d{1,3}([.,]\d{3})+", number):
        return float(plain)
    try:
        return float(number.replace(",", "."))
    except ValueError:
        return number


def _evaluated(expression: str) -> float | None:
    """The value of arithmetic as an answer writes it (`x`, the signs for times and divided)."""
    expression = expression.replace(TIMES, "*").replace(DIVIDED, "/")
    expression = re.sub(r"(?<=\d)\s*x\s*(?=\d)", "*", expression)
    try:
        value = literal(expression.replace(",", ""))
    except (ValueError, TypeError, ZeroDivisionError, OverflowError):
        return None
    return float(value) if isinstance(value, int | float) else None


def _stated(result: str) -> float | None:
    """The value an answer states after `=` (thousands separators dropped), or None."""
    try:
        return float(result.replace(",", ""))
    except ValueError:
        return None


def _derivations(text: str) -> list[tuple[list[str], str]]:
    """Arithmetic the text writes out correctly: (its operands, its result)."""
    found = []
    for match in _DERIVATION.finditer(text):
        value, stated = _evaluated(match["expr"]), _stated(match["result"])
        if value is not None and stated is not None and math.isclose(value, stated, rel_tol=1e-9):
            found.append((numbers(match["expr"]), match["result"].lstrip("-")))
    return found


def corrected_arithmetic(answer: str) -> str:
    """`answer` with the results of its written-out whole-number arithmetic recomputed.

    Small models explain a result well and add badly ("4 + 8 + 15 + 16 + 23 + 42 = 100"):
    the operands come from the request, so the sum is put right rather than the
    explanation dropped, and a later step that uses the wrong sum ("100 / 6") uses the
    corrected one. Decimal operands are left alone (a comma may be a decimal mark).
    """
    corrected: dict[str, str] = {}

    def fix(match: re.Match[str]) -> str:
        expression, stated = match["expr"], match["result"]
        if not all(n.isdigit() for n in numbers(expression)):
            return match.group()
        for wrong, right in corrected.items():
            expression = re.sub(rf"(?<![\w.,]){wrong}(?![\w]|[.,]\d)", right, expression)
        value, claimed = _evaluated(expression), _stated(stated)
        if value is None or claimed is None:
            return match.group()
        if not math.isclose(value, claimed, rel_tol=1e-9):
            shown = str(int(value)) if value.is_integer() else f"{value:.10g}"
            corrected[stated.lstrip("-")] = shown
            stated = shown
        between = match.string[match.end("expr") : match.start("result")]
        return f"{expression}{between}{stated}"

    return _DERIVATION.sub(fix, answer)


def ungrounded_numbers(answer: str, sources: Iterable[str]) -> list[str]:
    """Numbers in `answer` (10 and above) that appear in none of `sources`.

    Arithmetic the answer writes out correctly carries grounding both ways: from grounded
    operands to its result (`4 + 8 + 15 = 27`), and from a printed result to the operands
    that explain it (`366 x 86400 = 31622400` when a run printed 31622400).
    """
    known: set[str] = set()
    for source in sources:
        for number in numbers(source):
            known |= _spellings(number)
    derivations = _derivations(answer)
    for _ in range(len(derivations)):
        for operands, result in derivations:
            if _spellings(result) & known or all(_spellings(n) & known for n in operands):
                known |= _spellings(result).union(*(_spellings(n) for n in operands))
    missing: list[str] = []
    for number in numbers(answer):
        digits = number.replace(",", "").replace(".", "")
        if not digits.isdigit() or (int(digits) < UNCHECKED_BELOW and "." not in number):
            continue
        if _spellings(number) & known:
            continue
        if number not in missing:
            missing.append(number)
    return missing


def without_numbers(answer: str, missing: Sequence[str]) -> str:
    """`answer` without the sentences that state any of `missing`."""
    pieces = re.split(r"(?<=[.!?;:])\s+|\n+", answer)
    kept = [
        piece for piece in pieces if not any(_spellings(n) & set(numbers(piece)) for n in missing)
    ]
    text = " ".join(p.strip() for p in kept if p.strip())
    return text if len(text.split()) >= MIN_KEPT_WORDS else ""
