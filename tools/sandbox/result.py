"""What one sandbox run reports: `ExecutionResult`.

Every outcome of `run_python` / `arun_python`, hostile code and sandbox failures
included, is one of these; they never raise for anything the code does.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ExecutionResult:
    """What happened when the code ran."""

    stdout: str
    stderr: str
    exit_code: int | None
    """The code's exit status; negative is the signal that ended it (-9 after a kill)."""
    timed_out: bool
    duration_s: float
    truncated: bool
    """True when stdout or stderr went past the cap and was cut (with a marker)."""
    isolation: tuple[str, ...]
    """The isolation actually applied: the tier first, then each protection in force."""
    code: str = ""
    error: str | None = None
    """Why the sandbox itself could not run the code (never the code's own errors)."""
    limits: dict[str, int] = field(default_factory=dict)
    limit_exceeded: str | None = None
    """`memory` when the run was killed for its total memory (all processes together)."""

    @property
    def ok(self) -> bool:
        """True when the code ran to completion with exit status 0."""
        return self.exit_code == 0 and not self.timed_out and self.error is None

    def summary(self, max_chars: int = 4000) -> str:
        """A compact text for a model: status, stdout and stderr (each cut to `max_chars`)."""
        status = "timed out" if self.timed_out else f"exit code {self.exit_code}"
        if self.limit_exceeded:
            status += f", killed: {self.limit_exceeded} limit exceeded"
        if self.error:
            status = f"sandbox error: {self.error}"
        parts = [f"[{status}, {self.duration_s:.2f}s]"]
        if self.stdout:
            parts.append("stdout:\n" + self.stdout[-max_chars:])
        if self.stderr:
            parts.append("stderr:\n" + self.stderr[-max_chars:])
        return "\n".join(parts)
