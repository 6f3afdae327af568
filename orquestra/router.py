"""IntelligentRouter: which model takes the first step of a request.

`classify(text)` is pure, synchronous and linear in the input (only a bounded head and
tail of very long inputs are read): it weighs intent cues in English and Portuguese
(`orquestra.routing_cues`) and the shape of the text (pasted code, a traceback, a
requirements document) and returns a `RouteDecision`. `aclassify(text, model)` asks a
chat model, with structured output, when the cues are not decisive; the graph passes
the model that is already resident, so routing never causes a swap by itself.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Literal

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, Field

from orquestra import routing_cues as cues
from orquestra.phrases import near, tokens
from orquestra.settings import Role

log = logging.getLogger(__name__)

TaskType = Literal["planning", "code", "hybrid", "conversation"]
TASK_ROLES: dict[TaskType, Role] = {
    "planning": "brain",
    "code": "executor",
    "hybrid": "brain",
    "conversation": "brain",
}
# Very long inputs: the head carries the request, the tail the traceback or the question.
# Shapes (code lines, headings, tracebacks) are read in the larger window, intent words
# in the smaller one, which keeps every classification well under a millisecond.
HEAD_CHARS = 6000
TAIL_CHARS = 1500
INTENT_HEAD_CHARS = 2000
INTENT_TAIL_CHARS = 600
# Below this confidence `aclassify` asks the model.
# Confidence of a request that asks for both a plan and its execution in so many words.
EXPLICIT_HYBRID_CONFIDENCE = 0.9
ASK_MODEL_BELOW = 0.75
# How fast confidence grows with the score's distance from the decision boundary.
CONFIDENCE_SCALE = 2.5
# Shape weights (positive: executor).
PASTED_CODE_WEIGHT = 3.0
TRACEBACK_WEIGHT = 4.0
QUESTION_ABOUT_CODE_WEIGHT = -4.0
REQUIREMENTS_DOC_WEIGHT = -8.0
REQUIREMENTS_DOC_MIN_CHARS = 600
MIN_CODE_LINES = 2


@dataclass(frozen=True)
class RouteDecision:
    """Where a request goes first, and why."""

    task_type: TaskType
    role: Role
    confidence: float
    """How sure the router is, from 0 (no idea) to 1."""
    reasons: tuple[str, ...] = field(default=())
    """The cues that decided, e.g. `code request (+3.0)`."""
    score: float = 0.0
    """Signed evidence: positive for the executor, negative for the brain."""
    source: Literal["rules", "model"] = "rules"


class _ModelRoute(BaseModel):
    """Structured answer the brain or executor gives when asked to route."""

    task_type: TaskType = Field(
        description=(
            "planning: analysis, plans, strategy; code: write, run, debug or refactor code; "
            "hybrid: plan first, then write and run code; conversation: questions, "
            "explanations, writing, chat."
        )
    )
    reason: str = Field(description="One short sentence explaining the choice.")


ROUTING_PROMPT = (
    "Classify the user's request for a two-model assistant. A brain model plans, reasons, "
    "explains and converses; a coder model writes, runs, debugs and refactors code. "
    "Answer with the task type only.\n\nRequest:\n{text}"
)


_COMBINING = re.compile(r"[\u0300-\u036f]+")


def normalise(text: str) -> str:
    """Lowercase ASCII without accents, bounded to the head and tail of very long inputs.

    Accented letters lose their accents (`análise` → `analise`); other non-ASCII
    characters (emoji, dashes, other scripts) become `?`, a separator for the cues.
    """
    if len(text) > HEAD_CHARS + TAIL_CHARS:
        text = text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]
    text = text.lower()
    if text.isascii():
        return text
    bare = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return bare.encode("ascii", errors="replace").decode("ascii")


def _confidence(score: float) -> float:
    return round(0.5 + 0.5 * (1 - math.exp(-abs(score) / CONFIDENCE_SCALE)), 3)


class IntelligentRouter:
    """Routes requests to the brain or the executor (see module docstring)."""

    def classify(self, text: str) -> RouteDecision:
        """Decide from cues alone: pure, synchronous, no model call."""
        if not isinstance(text, str):
            text = str(text)
        if not text.strip():
            return RouteDecision("conversation", "brain", 0.0, ("empty request",))
        norm = normalise(text)
        intent = norm
        if len(norm) > INTENT_HEAD_CHARS + INTENT_TAIL_CHARS:
            intent = norm[:INTENT_HEAD_CHARS] + "\n" + norm[-INTENT_TAIL_CHARS:]
        score = 0.0
        reasons: list[str] = []
        found: set[str] = set()

        def add(name: str, weight: float) -> None:
            nonlocal score
            if name in found:  # each cue counts once, however often it appears
                return
            found.add(name)
            score += weight
            reasons.append(f"{name} ({weight:+.1f})")

        words = tokens(intent)
        hits = cues.INDEX.scan(words)
        for cue in cues.CUES:
            if isinstance(cue, cues.WordCue):
                matched = bool(hits.get(cue.vocab))
            elif isinstance(cue, cues.NearCue):
                matched = near(hits.get(cue.first, ()), hits.get(cue.second, ()), cue.gap)
            else:
                matched = cue.pattern.search(intent) is not None
            if matched:
                add(cue.name, cue.weight)
        if any(h.start == 0 for h in hits.get("conversation", ())):
            add("conversation", cues.CONVERSATION_WEIGHT)
        code_lines = len(cues.CODE_LINE.findall(norm))
        pasted = bool(cues.CODE_FENCE.search(norm)) or code_lines >= MIN_CODE_LINES
        traceback = cues.looks_like_traceback(norm)
        if traceback:
            add("traceback", TRACEBACK_WEIGHT)
        if pasted:
            add("pasted code", PASTED_CODE_WEIGHT)
            first_line = len(tokens(norm.strip().split("\n", 1)[0]))
            asks_about = any(h.start < first_line for h in hits.get("explain", ())) and not (
                traceback or "code request" in found or hits.get("debug")
            )
            if asks_about:
                add("question about code", QUESTION_ABOUT_CODE_WEIGHT)
        requirements = (
            len(norm) >= REQUIREMENTS_DOC_MIN_CHARS
            and len(cues.HEADING.findall(norm)) >= 2
            and cues.REQUIREMENT_WORDS.search(norm) is not None
        )
        if requirements:
            add("requirements document", REQUIREMENTS_DOC_WEIGHT)

        plan = "planning" in found
        build = "code request" in found or bool(hits.get("execute"))
        task_type: TaskType
        if requirements or (plan and build and not traceback):
            task_type = "hybrid"
        elif score > 0:
            task_type = "code"
        elif plan:
            task_type = "planning"
        else:
            task_type = "conversation"
        if not reasons:
            reasons.append("no cue: conversation by default")
        confidence = _confidence(score)
        if task_type == "hybrid" and plan and build:
            # "Plan and execute ..." says what it wants, whatever else the cues weigh.
            confidence = max(confidence, EXPLICIT_HYBRID_CONFIDENCE)
        return RouteDecision(
            task_type, TASK_ROLES[task_type], confidence, tuple(reasons), round(score, 2)
        )

    async def aclassify(self, text: str, model: BaseChatModel | None = None) -> RouteDecision:
        """Decide from cues; when they are not decisive, ask `model` (structured output).

        Args:
            text: The request.
            model: A chat model that is already resident (so asking costs no swap);
                None means cues only.
        """
        decision = self.classify(text)
        if model is None or decision.confidence >= ASK_MODEL_BELOW or not text.strip():
            return decision
        try:
            structured = model.with_structured_output(_ModelRoute)
            answer = await structured.ainvoke(ROUTING_PROMPT.format(text=normalise(text)))
        except Exception as exc:  # the cue decision stands; say why the model did not help
            log.info("Routing model failed: %s", exc)
            return replace(decision, reasons=(*decision.reasons, f"model unavailable: {exc}"))
        if not isinstance(answer, _ModelRoute):
            return replace(decision, reasons=(*decision.reasons, "model gave no route"))
        return RouteDecision(
            task_type=answer.task_type,
            role=TASK_ROLES[answer.task_type],
            confidence=max(decision.confidence, ASK_MODEL_BELOW),
            reasons=(*decision.reasons, f"model: {answer.reason}"),
            score=decision.score,
            source="model",
        )
