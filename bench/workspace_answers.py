"""What a bare model is asked in `bench/workspace.py`, and how the files in its answer are read.

The request shows the project's files and, for a bug, pytest's report, and asks for ONE
answer: the whole new content of each file changed or created, each in a fenced block
named by its path. The files are read as the graph reads them (`nodes.file_replies`); a
reply with a single unnamed Python block is taken as the module (`solution.py`): small
models often leave the name out when there is one file to change.
"""

from __future__ import annotations

import _common  # noqa: F401  (puts the repository on sys.path)
from workspace_project import MODULE

from nodes.file_replies import files_in_reply as _files_in_reply

ANSWER_FORMAT = (
    "Answer with the complete new content of every file you change or create, each in its "
    "own ```python block whose first line is a comment with the file's path, like "
    "`# solution.py`. Leave out the files you do not change."
)


def request_for(request: str, files: dict[str, str], report: str = "") -> str:
    """The bare contenders' prompt: the request, the files, pytest's report, the format."""
    parts = [request]
    for name, text in files.items():
        parts.append(f"{name}:\n```python\n{text.rstrip()}\n```")
    if report:
        parts.append(f"Output of `pytest`:\n```\n{report.rstrip()}\n```")
    parts.append(ANSWER_FORMAT)
    return "\n\n".join(parts)


def files_in_reply(reply: str) -> dict[str, str]:
    """The files a bare reply gives (an unnamed single block is the module)."""
    return _files_in_reply(reply, MODULE)
