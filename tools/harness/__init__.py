"""What runs in the sandbox when a candidate is checked: two processes, and their program.

`checker` is the run's own process: it holds the expected values and the run's nonce
(from standard input, never from the program), starts `candidate`, the process that
holds the candidate's code, asks it for each example's result and judges the replies
itself. `program` is the script the sandbox runs: the checker's source and what it
checks. Both modules import only the standard library, since their source is what runs
in the sandbox; `tools.checks` builds their input and reads their verdict, and says what
this design protects against.
"""

from __future__ import annotations

import functools
from pathlib import Path

from tools.harness.checker import REPORT_MARKER, Call, CheckerConfig, Secret

__all__ = ["REPORT_MARKER", "Call", "CheckerConfig", "Secret", "candidate_source", "program"]


@functools.cache
def _module_source(name: str) -> str:
    return (Path(__file__).parent / f"{name}.py").read_text(encoding="utf-8")


def candidate_source() -> str:
    """The script the candidate's process runs (`python -c`)."""
    return _module_source("candidate") + "\n\nmain()\n"


def program(config: CheckerConfig) -> str:
    """The script the sandbox runs: the checker, called with `config`."""
    return _module_source("checker") + f"\n\nmain({config!r})\n"
