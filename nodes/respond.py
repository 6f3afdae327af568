"""The respond node: the brain answers conversation and planning, calling tools if it helps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, SystemMessage
from langchain_core.tools import BaseTool
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime, get_runtime

from nodes.code_runs import count_tool_runs
from nodes.common import (
    answer_in_language,
    manager_for,
    message_text,
    request_language,
)
from nodes.context import DEFAULT_EXECUTION_TIMEOUT_S, Context, context_of
from nodes.prompts import BRAIN_SYSTEM
from nodes.state import State
from nodes.stream import emit_thinking
from orquestra.errors import is_tools_unsupported
from orquestra.language import ANSWER_IN
from tools.code_tool import make_python_tool
from tools.workspace import make_workspace_tools

# Models that answered "does not support tools" once are not offered tools again.
_NO_TOOLS: set[str] = set()


def _workspace_root() -> Path:
    try:
        return Path(get_runtime().context.workspace_dir)  # type: ignore[attr-defined]
    except (RuntimeError, AttributeError):
        return Path.cwd()


def brain_tools(timeout_s: float = DEFAULT_EXECUTION_TIMEOUT_S) -> list[BaseTool]:
    """Tools the brain may call: the Python sandbox and read-only workspace access."""
    return [make_python_tool(timeout_s=timeout_s), *make_workspace_tools(_workspace_root)]


async def run_brain_tools(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Run the tools the brain called, with the run context's limits (its timeout)."""
    tools = ToolNode(brain_tools(context_of(runtime).execution_timeout_s))
    result: dict[str, Any] = await tools.ainvoke(state)
    return {**result, "messages": count_tool_runs(result.get("messages", []))}


async def respond(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Answer with the brain; offer tools while the tool-round budget lasts."""
    context = context_of(runtime)
    manager = await manager_for(context)
    rounds = state.get("tool_rounds", 0)
    language = request_language(state)
    messages = [SystemMessage(f"{BRAIN_SYSTEM} {ANSWER_IN[language]}"), *state.get("messages", [])]
    notes: list[str] = []
    model = manager.lineup.model("brain")  # the real model, as the backend names it
    emit_thinking("brain")
    async with manager.use("brain") as chat:
        answer: AIMessage | None = None
        if rounds < context.max_tool_rounds and model not in _NO_TOOLS:
            tools = brain_tools(context.execution_timeout_s)
            try:
                result = await chat.bind_tools(tools).ainvoke(messages)
                answer = result if isinstance(result, AIMessage) else AIMessage(str(result))
            except Exception as exc:
                if not is_tools_unsupported(exc):
                    raise
                _NO_TOOLS.add(model)
                notes.append(f"{model} does not support tools; answered without them")
        if answer is None:
            result = await chat.ainvoke(messages)
            answer = result if isinstance(result, AIMessage) else AIMessage(str(result))
            if answer.tool_calls:  # tools were not offered: a call now cannot be honoured
                notes.append(f"ignored {len(answer.tool_calls)} tool call(s) past the limit")
                answer = AIMessage(answer.content, id=answer.id)
        if not answer.tool_calls:
            text = message_text(answer)
            rewritten = await answer_in_language(chat, text, language)
            if rewritten != text:
                notes.append(f"the answer was rewritten in the request's language ({language})")
                answer = AIMessage(rewritten, id=answer.id)
    used_tools = 1 if answer.tool_calls else 0
    return {"messages": [answer], "tool_rounds": rounds + used_tools, "notes": notes}
