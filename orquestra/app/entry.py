"""The `orquestra` console script: Ctrl-C is answered from the first instant.

The command's modules take about a second to import (the workflow, LangGraph, the model
clients). A Ctrl-C in that second would end the interpreter with a `KeyboardInterrupt`
traceback; here it ends the command as any other interrupt does: `interrupted`, exit 130.
This module imports nothing of the project until then.
"""

from __future__ import annotations

import sys

# Exit status of a command ended by Ctrl-C (128 + SIGINT), as `interrupts.py` exits.
CTRL_C_EXIT = 130


def main() -> None:
    """Load the command and run it."""
    try:
        from orquestra.app.cli import main as run
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(CTRL_C_EXIT)
    run()


if __name__ == "__main__":
    main()
