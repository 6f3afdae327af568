"""Helpers the nodes share: the manager for a run, the request text, streaming events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.config import get_stream_writer

from nodes.context import Context
from orquestra.events import SwapEvent
from orquestra.manager import ModelManager
from orquestra.runtime import amanager_for

# How much of stdout/stderr a prompt or a stream event carries.
OUTPUT_TAIL_CHARS = 2000


async def manager_for(context: Context) -> ModelManager:
    """The model manager serving this run's models and policy."""
    return await amanager_for(context.brain_model, context.executor_model, context.swap_policy)


def request_text(state: Mapping[str, Any]) -> str:
    """The text of the user's latest message."""
    for message in reversed(state.get("messages", [])):
        if isinstance(message, HumanMessage):
            return message_text(message)
    return ""


def message_text(message: BaseMessage) -> str:
    """A message's text content (text blocks joined; other blocks left out)."""
    return str(message.text)


def emit(event: dict[str, Any]) -> None:
    """Send an event on the custom stream (a no-op outside a streaming run)."""
    try:
        writer = get_stream_writer()
    except RuntimeError:  # called outside a graph run
        return
    writer(event)


def swap_event_payload(event: SwapEvent) -> dict[str, Any]:
    """A swap event as streamed and stored in the state."""
    return {"type": "swap", "message": event.describe(), **event.as_dict()}


@asynccontextmanager
async def recording_swaps(manager: ModelManager) -> AsyncIterator[list[dict[str, Any]]]:
    """Collect (and stream) the swap events that happen inside the block."""
    recorded: list[dict[str, Any]] = []

    def listener(event: SwapEvent) -> None:
        payload = swap_event_payload(event)
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
