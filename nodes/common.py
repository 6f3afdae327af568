"""Helpers the nodes share: the manager for a run, the request text, streaming events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage

from nodes.context import Context
from nodes.prompts import REWRITE_PROMPT
from nodes.stream import SwapDoneEvent, emit, swap_done
from orquestra.events import SwapEvent
from orquestra.language import NAMES, Language, detect_language, language_scores
from orquestra.runtime import amanager_for
from orquestra.service import ModelService

# How much of stdout/stderr a prompt or a stream event carries.
OUTPUT_TAIL_CHARS = 2000
# Words of evidence an answer needs before its language is judged (short answers pass).
LANGUAGE_EVIDENCE = 4.0


async def manager_for(context: Context) -> ModelService:
    """The model manager serving this run's models and policy."""
    return await amanager_for(context.brain_model, context.executor_model, context.swap_policy)


def request_text(state: Mapping[str, Any]) -> str:
    """The text of the user's latest message."""
    for message in reversed(state.get("messages", [])):
        if isinstance(message, HumanMessage):
            return message_text(message)
    return ""


def request_language(state: Mapping[str, Any]) -> Language:
    """The language of the request (as the route node found it, or detected now)."""
    found = state.get("language")
    if found in ("en", "pt", "es"):
        return found  # type: ignore[no-any-return]
    return detect_language(request_text(state))


def message_text(message: BaseMessage) -> str:
    """A message's text content (text blocks joined; other blocks left out)."""
    return str(message.text)


def render_plan(plan: Mapping[str, Any]) -> str:
    """The plan as numbered lines, code steps marked."""
    return "\n".join(
        f"{i}. {step['description']}" + (" [code]" if step["needs_code"] else "")
        for i, step in enumerate(plan["steps"], 1)
    )


@asynccontextmanager
async def recording_swaps(manager: ModelService) -> AsyncIterator[list[SwapDoneEvent]]:
    """Collect (and stream) the swap events that happen inside the block."""
    recorded: list[SwapDoneEvent] = []

    def listener(event: SwapEvent) -> None:
        payload = swap_done(event)
        recorded.append(payload)
        emit(payload)

    unsubscribe = manager.subscribe(listener)
    try:
        yield recorded
    finally:
        unsubscribe()


def tail(text: str, limit: int = OUTPUT_TAIL_CHARS) -> str:
    """The end of a long output, marked when cut."""
    return text if len(text) <= limit else "[...]\n" + text[-limit:]


def in_other_language(text: str, language: Language) -> bool:
    """Whether `text` has enough prose to tell, and is written in another language."""
    scores = language_scores(text)
    return max(scores.values()) >= LANGUAGE_EVIDENCE and detect_language(text) != language


async def answer_in_language(chat: BaseChatModel, text: str, language: Language) -> str:
    """`text` as is, or rewritten by `chat` when it is in another language than `language`."""
    if not in_other_language(text, language):
        return text
    reply = await chat.ainvoke(
        [HumanMessage(REWRITE_PROMPT.format(language=NAMES[language], answer=text))]
    )
    rewritten = message_text(reply).strip()
    return rewritten if rewritten and not in_other_language(rewritten, language) else text
