"""Extracting runnable Python from a model's reply.

Models answer with fenced blocks (```python, ```py, bare ```), several of them, prose
around them in any language, or no fence at all. `extract_code` returns the Python to
run: the Python blocks joined in order, else the longest run of lines that parses as
Python, else an empty string.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

PYTHON_TAGS = frozenset({"python", "py", "python3", "py3", "ipython", "pycon", ""})
# Fences open with ``` or ~~~ (optionally indented, e.g. inside a list) and an info string.
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
# Lines that start a Python statement; used only when a reply has no fence at all.
_CODE_START = re.compile(
    r"^(def |class |import |from \S+ import |async def |@\w|if __name__|for |while |with |try:|"
    r"print\(|return |[A-Za-z_][\w.\[\]]*\s*(=|\+=|-=)\s*\S|[A-Za-z_][\w.]*\()"
)


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block of a reply."""

    language: str
    code: str


def code_blocks(reply: str) -> list[CodeBlock]:
    """Every fenced block in `reply`, in order; an unclosed last fence runs to the end."""
    blocks: list[CodeBlock] = []
    lines = reply.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        language = (opening["info"].strip().split() or [""])[0].lower().lstrip("{.").rstrip("}")
        body: list[str] = []
        i += 1
        while i < len(lines):
            closing = _FENCE.match(lines[i])
            if (
                closing
                and closing["fence"].startswith(fence[0] * len(fence))
                and not closing["info"].strip()
            ):
                break
            line = lines[i]
            body.append(line[indent:] if line[:indent].strip() == "" else line)
            i += 1
        blocks.append(CodeBlock(language, "\n".join(body).strip("\n")))
        i += 1
    return blocks


def _strip_prompts(code: str) -> str:
    """Turn a `>>>` console transcript into plain code (pycon blocks)."""
    lines = code.split("\n")
    if not any(line.startswith(">>> ") for line in lines):
        return code
    kept = [line[4:] for line in lines if line.startswith((">>> ", "... "))]
    return "\n".join(kept)


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _unfenced(reply: str) -> str:
    """The longest run of lines that starts like code and parses as Python."""
    lines = reply.replace("\r\n", "\n").split("\n")
    if _parses(reply) and any(_CODE_START.match(line.strip()) for line in lines):
        return reply.strip("\n")
    best = ""
    for start, line in enumerate(lines):
        if not _CODE_START.match(line):
            continue
        for end in range(len(lines), start, -1):
            candidate = "\n".join(lines[start:end]).strip("\n")
            if len(candidate) <= len(best):
                break
            if _parses(candidate):
                best = candidate
                break
    return best


def extract_code(reply: str) -> str:
    """The Python code in a model's reply ('' when there is none).

    Args:
        reply: The model's full answer, prose and all.
    """
    blocks = code_blocks(reply)
    python = [_strip_prompts(b.code) for b in blocks if b.language in PYTHON_TAGS and b.code]
    if python:
        return "\n\n".join(python)
    if blocks:
        return ""  # only other languages (bash, json, output): nothing to run
    return _unfenced(reply)
