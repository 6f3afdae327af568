"""Which command tests a project, and the argv that runs it in the sandbox (pure).

With no command, the project's tests run under pytest: `DEFAULT_COMMAND`, whose `python`
is the sandbox's interpreter (the application's own by default, whose environment has
pytest). A command that is pytest (`pytest ...`, `py.test ...`, `python -m pytest ...`)
runs as `<interpreter> -m pytest` with the outcome plugin loaded, pytest's cache off and
collection errors not stopping the run (`PYTEST_OPTIONS`), so every test's outcome is
known; any other command runs as given (`python` still meaning the interpreter), and its
outcomes are read from its output.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from tools.project_tests.plugin import MODULE_NAME

DEFAULT_COMMAND = ("python", "-m", "pytest", "-q", "-rfE")
# Added to every pytest run: the outcome plugin, no .pytest_cache in the project, and the
# other files' tests still run when one file fails to import (so they can be judged).
PYTEST_OPTIONS = ("-p", MODULE_NAME, "-p", "no:cacheprovider", "--continue-on-collection-errors")
PYTHON_NAME = re.compile(r"python(3(\.\d+)?)?")
PYTEST_NAMES = ("pytest", "py.test")


def plan_command(
    command: Sequence[str] | None, interpreter: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The command as shown, and the argv the runner starts.

    Raises:
        ValueError: `command` is empty.
    """
    shown = tuple(command) if command is not None else DEFAULT_COMMAND
    if not shown:
        raise ValueError("the test command is empty")
    program, rest = os.path.basename(shown[0]), list(shown[1:])
    if program in PYTEST_NAMES:
        return shown, (interpreter, "-m", "pytest", *PYTEST_OPTIONS, *rest)
    if PYTHON_NAME.fullmatch(program):
        if rest[:2] == ["-m", "pytest"]:
            return shown, (interpreter, "-m", "pytest", *PYTEST_OPTIONS, *rest[2:])
        return shown, (interpreter, *rest)
    return shown, shown
