"""The events on the custom stream are exactly the typed ones the CLI and Studio read."""

from __future__ import annotations

import json
import typing
from dataclasses import asdict, fields
from typing import Any

from graph import Context, build_graph
from nodes.stream import StreamEvent, swap_done
from orquestra.events import SwapEvent
from orquestra.manager import ModelManager
from tests.fakes.ollama import FakeOllamaState
from tests.graph_support import BRAIN, EXECUTOR, code_reply, plan_reply, user

# Every event type, by its `type` tag.
EVENT_TYPES = {
    typing.get_args(typing.get_type_hints(t)["type"])[0]: t for t in typing.get_args(StreamEvent)
}


def matches_its_type(event: dict[str, Any]) -> bool:
    typed = EVENT_TYPES[event["type"]]
    keys = set(event)
    declared = typed.__required_keys__ | typed.__optional_keys__
    if event["type"] == "swap":  # the rest are the SwapEvent's fields, declared on the record
        declared |= {f.name for f in fields(SwapEvent)}
        assert SwapEvent.from_dict(event).describe() == event["message"]
    return typed.__required_keys__ <= keys <= declared


def a_swap() -> SwapEvent:
    return SwapEvent(
        to_model="coder:14b",
        to_role="executor",
        from_models=("brain:latest",),
        from_role="brain",
        reason="request",
        unload_s=0.1,
        vram_wait_s=0.2,
        load_s=1.5,
        total_s=1.8,
        vram_before_gb=13.0,
        vram_after_gb=9.0,
        footprint_gb=9.0,
        estimated_gb=9.2,
        vram_converged=True,
        oom_retry=False,
        started_at=1.0,
        page_cache=0.5,
        prefetched=True,
    )


def test_a_swap_event_streams_every_field_of_the_swap() -> None:
    event = a_swap()
    streamed = swap_done(event)
    assert dict(streamed) == {"type": "swap", "message": event.describe(), **event.as_dict()}
    assert set(streamed) == {"type", "message", *asdict(event)}


def test_a_streamed_swap_decodes_to_the_same_swap() -> None:
    event = a_swap()
    assert SwapEvent.from_dict(swap_done(event)) == event
    assert SwapEvent.from_dict(json.loads(json.dumps(event.as_dict()))) == event


def test_decoding_a_swap_ignores_fields_it_does_not_know_and_keeps_the_defaults() -> None:
    data = {**a_swap().as_dict(), "from_models": [], "added_later": 1}
    del data["page_cache"], data["prefetched"]
    decoded = SwapEvent.from_dict(data)
    assert decoded.from_models == () and decoded.page_cache is None and not decoded.prefetched


async def test_every_event_of_a_hybrid_run_is_one_of_the_typed_events(
    wired: ModelManager, state: FakeOllamaState
) -> None:
    state.script(
        BRAIN,
        plan_reply(("somar", True), ("explicar", False)),
        code_reply("print(55)"),
        "A soma é 55.",
    )
    state.script(EXECUTOR, code_reply("print(sum(range(1, 11)))"))
    events: list[dict[str, Any]] = []
    async for chunk in build_graph().astream(
        user("Planeje e execute: some os números de 1 a 10 e explique"),
        context=Context(),
        stream_mode="custom",
    ):
        events.append(chunk)
    kinds = {e["type"] for e in events}
    assert {"route", "swap_start", "swap", "thinking", "plan", "code_run"} <= kinds
    assert [e for e in events if not matches_its_type(e)] == []
    nodes = {e["node"] for e in events if e["type"] == "thinking"}
    assert {"plan", "execute"} <= nodes  # named by the graph, not by the nodes
