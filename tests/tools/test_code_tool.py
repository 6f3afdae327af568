"""The sandbox as a LangChain tool, fed realistic model replies."""

from __future__ import annotations

from langchain_core.messages import ToolMessage

from tools.code_tool import make_python_tool
from tools.sandbox import ExecutionResult


async def test_python_tool_runs_code_from_a_model_reply() -> None:
    tool = make_python_tool(timeout_s=5)
    assert tool.name == "run_python"
    out = await tool.ainvoke({"code": "```python\nprint(sum(range(1, 11)))\n```"})
    assert "exit code 0" in out and "55" in out


def test_python_tool_reports_errors_to_the_model() -> None:
    out = make_python_tool(timeout_s=5).invoke({"code": "raise ValueError('boom')"})
    assert "exit code 1" in out and "ValueError: boom" in out


async def test_python_tool_hands_the_run_back_beside_what_the_model_reads() -> None:
    call = {"type": "tool_call", "name": "run_python", "args": {"code": "print(7)"}, "id": "c1"}
    message = await make_python_tool(timeout_s=5).ainvoke(call)
    assert isinstance(message, ToolMessage) and "exit code 0" in str(message.content)
    assert isinstance(message.artifact, ExecutionResult) and message.artifact.stdout == "7\n"
