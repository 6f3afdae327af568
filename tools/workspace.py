"""Read-only tools over a workspace directory, for a brain that calls tools.

Paths are resolved inside the workspace root (no `..`, no symlinks out of it), reads
are capped, and file I/O runs in a worker thread so graph nodes never block.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

MAX_READ_BYTES = 64 * 1024
MAX_LISTED = 200


class WorkspaceError(ValueError):
    """A path outside the workspace, or one that does not exist."""


def _inside(root: Path, relative: str) -> Path:
    base = root.resolve()
    target = (base / relative).resolve()
    if target != base and base not in target.parents:
        raise WorkspaceError(f"{relative!r} is outside the workspace {base}")
    return target


def _list(root: Path, relative: str) -> str:
    target = _inside(root, relative or ".")
    if not target.is_dir():
        raise WorkspaceError(f"{relative!r} is not a directory in the workspace")
    entries = sorted(target.iterdir(), key=lambda p: (not p.is_dir(), p.name))
    lines = [
        f"{p.name}/" if p.is_dir() else f"{p.name} ({p.stat().st_size} bytes)"
        for p in entries[:MAX_LISTED]
    ]
    if len(entries) > MAX_LISTED:
        lines.append(f"... and {len(entries) - MAX_LISTED} more")
    return "\n".join(lines) or "(empty directory)"


def _read(root: Path, relative: str) -> str:
    target = _inside(root, relative)
    if not target.is_file():
        raise WorkspaceError(f"{relative!r} is not a file in the workspace")
    with target.open("rb") as fh:
        data = fh.read(MAX_READ_BYTES + 1)
    text = data[:MAX_READ_BYTES].decode("utf-8", errors="replace")
    if len(data) > MAX_READ_BYTES:
        text += f"\n[... truncated at {MAX_READ_BYTES} bytes ...]"
    return text


class _PathInput(BaseModel):
    path: str = Field(default=".", description="Path relative to the workspace root.")


def make_workspace_tools(root: Callable[[], Path]) -> list[BaseTool]:
    """`list_workspace` and `read_workspace_file`, confined to the directory `root()` returns."""

    async def list_workspace(path: str = ".") -> str:
        try:
            return await asyncio.to_thread(_list, root(), path)
        except (WorkspaceError, OSError) as exc:
            return f"error: {exc}"

    async def read_workspace_file(path: str) -> str:
        try:
            return await asyncio.to_thread(_read, root(), path)
        except (WorkspaceError, OSError) as exc:
            return f"error: {exc}"

    return [
        StructuredTool.from_function(
            coroutine=list_workspace,
            name="list_workspace",
            description="List the files and directories at a path in the user's workspace.",
            args_schema=_PathInput,
        ),
        StructuredTool.from_function(
            coroutine=read_workspace_file,
            name="read_workspace_file",
            description="Read a text file from the user's workspace (read-only, capped).",
            args_schema=_PathInput,
        ),
    ]
