"""The files a model's answer gives: fenced Python blocks, each named by its path (pure).

Small models name a block's file in many ways; all of these are read. A block's path is
read from a comment line naming it (`# helpers.py`, `# File: helpers.py`; several such
lines split one block into several files), else from its info string (```python
helpers.py), else from the prose just above the fence (`**helpers.py**`, `### helpers.py:`,
`solution.py`). A reply with a single unnamed Python block can be given to the one file the
request is about. A path that leaves the project (absolute, `..`) is ignored.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*(.*)$")
_PATH = re.compile(r"[\w./-]*\w\.py\b")
_NAMING_COMMENT = re.compile(r"^#\s*(?:file(?:name)?\s*:?\s*)?([\w./-]+\.py)\s*$", re.IGNORECASE)
_SAFE_PATH = re.compile(r"^[\w-]+(/[\w-]+)*\.py$")
PYTHON_TAGS = frozenset({"", "python", "py", "python3", "py3"})
# Lines above a fence searched for the block's name.
NAME_LOOKBACK_LINES = 2


def _safe(path: str) -> str | None:
    path = path.strip().strip("`*'\":").removeprefix("./")
    return path if _SAFE_PATH.match(path) and ".." not in path.split("/") else None


def _blocks(reply: str) -> list[tuple[str, str, list[str]]]:
    """Each fenced block: its info string, the prose lines above it, its lines."""
    lines = reply.replace("\r\n", "\n").split("\n")
    found: list[tuple[str, str, list[str]]] = []
    i, prose = 0, ""
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            if lines[i].strip():
                prose = "\n".join([*prose.split("\n"), lines[i]][-NAME_LOOKBACK_LINES:])
            i += 1
            continue
        fence, info = opening.group(1), opening.group(2).strip()
        body: list[str] = []
        i += 1
        while i < len(lines):
            closing = _FENCE.match(lines[i])
            if closing and closing.group(1).startswith(fence) and not closing.group(2).strip():
                break
            body.append(lines[i])
            i += 1
        found.append((info, prose, body))
        prose = ""
        i += 1
    return found


def _segments(info: str, prose: str, body: list[str]) -> tuple[str, list[tuple[str, str]]]:
    """A block's language tag and its files, (path or '', text), split at naming comments."""
    tag, _, rest = info.replace(":", " ").partition(" ")
    name = rest.strip()
    if not name and _PATH.fullmatch(tag):
        name, tag = tag, "python"
    if not name:
        above = _PATH.findall(prose)
        name = above[-1] if above else ""
    segments: list[tuple[str, list[str]]] = [(name, [])]
    for line in body:
        named = _NAMING_COMMENT.match(line)
        if named:
            segments.append((named.group(1), []))
        else:
            segments[-1][1].append(line)
    return tag, [
        (path, "\n".join(lines).strip("\n") + "\n")
        for path, lines in segments
        if any(line.strip() for line in lines)
    ]


def files_in_reply(reply: str, unnamed_to: str = "") -> dict[str, str]:
    """The files a reply gives, by path (later blocks win); {} when it gives none.

    A reply whose only file is one unnamed Python block gives it to `unnamed_to` (the one
    file the request is about), when that is set. A block that names a path outside the
    project (absolute, `..`) is dropped whole.
    """
    files: dict[str, str] = {}
    unnamed: list[str] = []
    for info, prose, lines in _blocks(reply):
        tag, segments = _segments(info, prose, lines)
        if tag.lower() not in PYTHON_TAGS:
            continue
        for name, text in segments:
            if not name:
                unnamed.append(text)
            elif (path := _safe(name)) is not None:
                files[path] = text
    if not files and len(unnamed) == 1 and unnamed_to:
        files[unnamed_to] = unnamed[0]
    return files
