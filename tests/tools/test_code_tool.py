"""The sandbox as a LangChain tool, fed realistic model replies."""

from __future__ import annotations

from tools.code_tool import make_python_tool


async def test_python_tool_runs_code_from_a_model_reply() -> None:
    tool = make_python_tool(timeout_s=5)
    assert tool.name == "run_python"
    out = await tool.ainvoke({"code": "```python\nprint(sum(range(1, 11)))\n```"})
    assert "exit code 0" in out and "55" in out


def test_python_tool_reports_errors_to_the_model() -> None:
    out = make_python_tool(timeout_s=5).invoke({"code": "raise ValueError('boom')"})
    assert "exit code 1" in out and "ValueError: boom" in out
