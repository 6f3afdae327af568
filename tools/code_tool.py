"""The sandbox as a LangChain tool, so a brain with tool calling can run Python too."""

from __future__ import annotations

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from tools.extract import extract_code
from tools.sandbox import DEFAULT_TIMEOUT_S, ExecutionResult, arun_python, run_python

# Output handed back to the model, per stream; the sandbox caps what it keeps anyway.
TOOL_OUTPUT_CHARS = 4000


class RunPythonInput(BaseModel):
    """Arguments of the run_python tool."""

    code: str = Field(description="Python source to run as a script; print what you need.")


def make_python_tool(timeout_s: float = DEFAULT_TIMEOUT_S) -> BaseTool:
    """A `run_python` tool that executes code in the sandbox and reports exit code and output.

    The model reads the summary (the tool message's content); the run itself, an
    `ExecutionResult`, comes back as the message's artifact for the caller to keep or count.
    Invoked with plain arguments rather than a tool call, the tool returns the summary only.

    Args:
        timeout_s: Wall-clock limit of each run.
    """

    def _run(code: str) -> tuple[str, ExecutionResult]:
        result = run_python(extract_code(code) or code, timeout_s=timeout_s)
        return result.summary(TOOL_OUTPUT_CHARS), result

    async def _arun(code: str) -> tuple[str, ExecutionResult]:
        result = await arun_python(extract_code(code) or code, timeout_s=timeout_s)
        return result.summary(TOOL_OUTPUT_CHARS), result

    return StructuredTool.from_function(
        func=_run,
        coroutine=_arun,
        name="run_python",
        description=(
            "Run a Python script in an isolated sandbox (no network, temporary directory, "
            f"{timeout_s:.0f}s limit) and return its exit code, stdout and stderr."
        ),
        args_schema=RunPythonInput,
        response_format="content_and_artifact",
    )
