"""The sentence a code answer opens with: the result, said as a person would say it.

"A soma dos quadrados de 1 a 100 é 338350.", not "The code ran and its output answers the
request." On the code path the brain is resident once it has confirmed or rescued a
script, so it writes that sentence from the request and what the code printed (and, when
the request asks why or how, a short explanation of the code). Its words are kept only
when they state the printed result, state no number that nothing printed or the request
did not give, are in the request's language and are short; else a plain sentence stands
in ("O resultado é 338350.").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

from nodes.common import in_other_language, message_text, tail
from nodes.grounding import corrected_arithmetic, numbers, states_number, ungrounded_numbers
from nodes.prompts import RESULT_EXPLAIN_PROMPT, RESULT_SENTENCE_PROMPT
from nodes.solve import sampled
from orquestra.language import ANSWER_IN, Language, language_scores

# The longest printed result a sentence restates (longer outputs are quoted in a block).
MAX_STATED_CHARS = 120
# How long the brain's lead may be: one sentence, or a short explanation when asked.
MAX_SENTENCE_CHARS = 300
MAX_EXPLANATION_CHARS = 1500
# Seed of the greedy call that writes the lead (a run is reproducible).
LEAD_SEED = 11
# An explanation is the result's sentence and at least two more.
MIN_EXPLANATION_SENTENCES = 3
# How much of the output and the code the brain is shown.
SHOWN_OUTPUT_CHARS = 1500
SHOWN_CODE_CHARS = 3000

# A printed line with this many words and this much evidence of the request's language is
# already the sentence an answer opens with.
MIN_SENTENCE_WORDS = 3
SENTENCE_EVIDENCE = 2.0
_WORD = re.compile(r"[^\W\d_]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

PLAIN: dict[Language, dict[str, str]] = {
    "en": {"value": "The result is {value}.", "printed": "The code printed:"},
    "pt": {"value": "O resultado é {value}.", "printed": "O código imprimiu:"},
    "es": {"value": "El resultado es {value}.", "printed": "El código imprimió:"},
}


def printed_result(output: str) -> str:
    """The result a sentence can restate: the output's one short line, else ''."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    if len(lines) != 1 or len(lines[0]) > MAX_STATED_CHARS:
        return ""
    return lines[0]


def plain_sentence(output: str, language: Language) -> str:
    """The stand-in lead: the printed line said in a sentence, or '' when none can be.

    A line that is already a sentence in the request's language ("A soma dos números de 1
    a 10 é 55.") is that sentence; a value, or words around one number ("Vogais: 16"),
    becomes "O resultado é 16."; several numbers in words cannot be told apart: ''.
    """
    value = printed_result(output)
    words = _WORD.findall(value)
    if len(words) >= MIN_SENTENCE_WORDS and language_scores(value)[language] >= SENTENCE_EVIDENCE:
        return value if value[-1] in ".!?" else f"{value}."
    found = numbers(value)
    if words and len(found) > 1:
        return ""
    if words and found:
        value = found[0]
    return PLAIN[language]["value"].format(value=value.rstrip(".")) if value else ""


def first_sentence(text: str) -> str:
    """The first sentence of `text` (a decimal point is not an end)."""
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


def states_result(text: str, output: str) -> bool:
    """Whether `text` states what `output` printed last (its last number, else its words)."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    if not lines:
        return False
    last = lines[-1]
    printed = numbers(last)
    if printed:
        return states_number(text, printed[-1])
    return last.lower().strip(".") in text.lower()


def lead_problem(
    text: str, output: str, sources: list[str], language: Language, *, explain: bool
) -> str:
    """Why the brain's lead may not open the answer ('' when it may; see the module's doc)."""
    limit = MAX_EXPLANATION_CHARS if explain else MAX_SENTENCE_CHARS
    sentences = len(_SENTENCE_END.split(text.strip()))
    missing = ungrounded_numbers(text, sources)
    problems = (
        (not text, "it is empty"),
        (len(text) > limit, f"it is longer than {limit} characters"),
        (explain and sentences < MIN_EXPLANATION_SENTENCES, f"it has {sentences} sentence(s)"),
        ("```" in text, "it holds code"),
        (not states_result(text, output), "it does not state the printed result"),
        (bool(missing), f"it states {', '.join(missing)}, which nothing printed"),
        (in_other_language(text, language), "it is in another language"),
    )
    return next((why for failed, why in problems if failed), "")


async def brain_lead(
    chat: BaseChatModel,
    request: str,
    run: Mapping[str, Any],
    language: Language,
    *,
    explain: bool,
    notes: list[str] | None = None,
) -> str:
    """The brain's opening sentence (and explanation when asked), or '' when not acceptable.

    Why it was not kept is added to `notes` (the run's notes, shown with the answer).
    """
    output = str(run.get("stdout") or "").strip()
    if not output or not run.get("accepted") or run.get("kind") == "function":
        return ""  # a function's run prints only the tally of its checks
    template = RESULT_EXPLAIN_PROMPT if explain else RESULT_SENTENCE_PROMPT
    prompt = template.format(
        request=request,
        output=tail(output, SHOWN_OUTPUT_CHARS),
        code=str(run.get("code", ""))[:SHOWN_CODE_CHARS],
        answer_in=ANSWER_IN[language],
    )
    reply = await sampled(chat, 0.0, LEAD_SEED).ainvoke([HumanMessage(prompt)])
    text = corrected_arithmetic(message_text(reply).strip())
    sources = [output, request, str(run.get("code", "")) if explain else ""]
    problem = lead_problem(text, output, sources, language, explain=explain)
    if problem:
        if notes is not None:
            what = "explanation" if explain else "sentence"
            notes.append(f"the brain's {what} was not kept: {problem}")
        return ""
    return opened_with_result(text, output, language)


def opened_with_result(text: str, output: str, language: Language) -> str:
    """`text`, led by the plain sentence of the result when its first sentence lacks it."""
    if not text or states_result(first_sentence(text), output):
        return text
    opening = plain_sentence(output, language)
    return f"{opening} {text}" if opening else text
