"""Run context: what a caller (or Studio) may change per run, with environment fallback.

`graph.context.Context` is this type; it lives beside the nodes that read it so imports
keep pointing one way (orquestra <- tools <- nodes <- graph).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from typing import Any

from orquestra.errors import SettingsError

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_MAX_ITERATIONS = 2
DEFAULT_EXECUTION_TIMEOUT_S = 30.0
DEFAULT_MAX_TOOL_ROUNDS = 4
DEFAULT_RESCUE_ATTEMPTS = 1
TASK_TYPES = ("auto", "conversation", "planning", "code", "hybrid")

# Field name → environment variable read when the field is left at its default. The models
# are not here: left empty, a run uses its process's lineup, which the settings build
# (arguments over `DEFAULT_MODEL` / `EXECUTOR_MODEL` over defaults), so a flag such as
# `orquestra run --brain-model` is never overridden by the environment.
ENVIRONMENT = {
    "swap_policy": "ORQUESTRA_SWAP_POLICY",
    "max_attempts": "ORQUESTRA_MAX_ATTEMPTS",
    "max_iterations": "ORQUESTRA_MAX_ITERATIONS",
    "execution_timeout_s": "ORQUESTRA_EXECUTION_TIMEOUT_S",
    "max_tool_rounds": "ORQUESTRA_MAX_TOOL_ROUNDS",
    "rescue_attempts": "ORQUESTRA_RESCUE_ATTEMPTS",
    "confirm_scripts": "ORQUESTRA_CONFIRM_SCRIPTS",
    "derived_checks": "ORQUESTRA_DERIVED_CHECKS",
    "workspace_dir": "ORQUESTRA_WORKSPACE",
    "apply_changes": "ORQUESTRA_APPLY",
}


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in _TRUE + _FALSE:
        raise ValueError(raw)
    return value in _TRUE


@dataclass(kw_only=True)
class Context:
    """Per-run settings, editable in Studio; unset fields fall back to the environment."""

    brain_model: str = field(
        default="",
        metadata={"description": "Brain model (Ollama tag); empty: the process's own."},
    )
    executor_model: str = field(
        default="",
        metadata={"description": "Executor model (Ollama tag); empty: the process's own."},
    )
    swap_policy: str = field(
        default="auto",
        metadata={"description": "alternate, coresident or auto (both when they fit)."},
    )
    max_attempts: int = field(
        default=DEFAULT_MAX_ATTEMPTS,
        metadata={
            "description": "Executor candidates per code step; the first to pass the checks wins."
        },
    )
    rescue_attempts: int = field(
        default=DEFAULT_RESCUE_ATTEMPTS,
        metadata={
            "description": "Brain attempts at a code step whose executor candidates all failed "
            "(0: no rescue)."
        },
    )
    confirm_scripts: bool = field(
        default=True,
        metadata={
            "description": "The brain confirms a script's result (no check can): on "
            "disagreement its result counts."
        },
    )
    derived_checks: bool = field(
        default=False,
        metadata={
            "description": "For a function the request gives no example of, the brain first "
            "writes test cases from the specification, and its code must agree with them "
            "(off: measured, the 1.5B brain's cases were wrong more often than its code)."
        },
    )
    max_iterations: int = field(
        default=DEFAULT_MAX_ITERATIONS,
        metadata={"description": "Execution rounds of a hybrid task (first run + revisions)."},
    )
    execution_timeout_s: float = field(
        default=DEFAULT_EXECUTION_TIMEOUT_S,
        metadata={"description": "Wall-clock limit of each sandboxed code run."},
    )
    max_tool_rounds: int = field(
        default=DEFAULT_MAX_TOOL_ROUNDS,
        metadata={"description": "Tool-calling rounds the brain may take per answer."},
    )
    task_type: str = field(
        default="auto",
        metadata={
            "description": "auto (the router decides), or force conversation, planning, code "
            "or hybrid."
        },
    )
    workspace_dir: str = field(
        default=".",
        metadata={
            "description": "The user's project: the brain reads it; fixes and refactors of "
            "its files run on a private copy with its own tests."
        },
    )
    apply_changes: bool = field(
        default=False,
        metadata={
            "description": "Write an accepted fix or refactor to the workspace's files "
            "(never a file changed since the run read it)."
        },
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            var = ENVIRONMENT.get(f.name)
            if var is None or getattr(self, f.name) != f.default or var not in os.environ:
                continue
            raw = os.environ[var]
            kind: type[Any] = type(getattr(self, f.name))
            try:
                setattr(self, f.name, _parse_bool(raw) if kind is bool else kind(raw))
            except ValueError:
                raise SettingsError(
                    f"{var}={raw!r} is invalid: expected {kind.__name__} for {f.name}."
                ) from None
        for name in ("max_attempts", "max_iterations", "max_tool_rounds"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.rescue_attempts < 0:
            raise SettingsError(f"rescue_attempts must be 0 or more, got {self.rescue_attempts}.")
        timeout = self.execution_timeout_s
        if not math.isfinite(timeout) or timeout <= 0:
            raise SettingsError(
                f"execution_timeout_s must be a positive number of seconds, got {timeout} "
                f"(ORQUESTRA_EXECUTION_TIMEOUT_S)."
            )
        if self.task_type not in TASK_TYPES:
            raise SettingsError(
                f"task_type={self.task_type!r} is invalid. Allowed values: {', '.join(TASK_TYPES)}."
            )
        if self.swap_policy not in ("alternate", "coresident", "auto"):
            raise SettingsError(
                f"swap_policy={self.swap_policy!r} is invalid. Allowed values: alternate, "
                f"coresident, auto."
            )


def context_of(runtime: Any) -> Context:
    """The run's context; the environment's defaults when the caller passed none.

    `graph.ainvoke({"messages": [...]})` without `context=` is the most natural call
    from Python or Jupyter, and LangGraph then hands the nodes no context at all.
    """
    context = getattr(runtime, "context", None)
    return context if isinstance(context, Context) else Context()
