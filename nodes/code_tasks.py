"""A request's code steps as tasks for a coder, and how long each task's runs may take.

Shared by the nodes that write code (`nodes.execute`, the executor; `nodes.rescue`, the
brain), so both write the same steps against the same checks.
"""

from __future__ import annotations

from nodes.common import request_text
from nodes.context import Context
from nodes.solve import CodeTask
from nodes.state import State
from tools.spec import read_spec

# A function's checks call it on the request's examples, which are small: a run that takes
# longer than this is stuck in a loop, not computing.
FUNCTION_CHECK_TIMEOUT_S = 10.0


def code_steps(state: State) -> list[int]:
    """The steps that need code: the plan's (hybrid; numbered as in the plan) or step 1."""
    plan = state.get("plan")
    if state.get("task_type") == "hybrid" and plan:
        return [index for index, step in enumerate(plan["steps"], 1) if step.get("needs_code")]
    return [1]


def code_tasks(state: State) -> list[CodeTask]:
    """The code steps as tasks, each with the checks the request specifies."""
    request = request_text(state)
    spec = read_spec(request)
    feedback = state.get("feedback") or ""
    iteration = state.get("iteration", 0)
    return [
        CodeTask(step=step, request=request, spec=spec, feedback=feedback, iteration=iteration)
        for step in code_steps(state)
    ]


def run_timeout(task: CodeTask, context: Context) -> float:
    """Seconds one run may take: the context's limit, capped for checks of small examples."""
    if task.kind == "function":
        return min(context.execution_timeout_s, FUNCTION_CHECK_TIMEOUT_S)
    return context.execution_timeout_s
