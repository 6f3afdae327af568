"""Which run `orquestra run` makes on its thread: a new turn, the interrupted run, or none.

A thread is one conversation; its checkpoints are kept where `ORQUESTRA_DB_URL` says
(`orquestra.checkpoints`). `orquestra run "…"` starts a new thread, or with `--thread ID`
a new turn of that conversation; `orquestra run --thread ID --resume` finishes the run a
Ctrl-C, a crash or a lost machine interrupted, from its last finished step, in any
process that reaches the same database. The decision is pure (`decide_start`); the
command reads the thread's last checkpoint and carries it out.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from orquestra.checkpoints import SETTING, CheckpointStore
from orquestra.errors import RunResumeError

# Longest thread id accepted on the command line (ids are typed and shown, not stored
# data), and what one may contain: no spaces or shell metacharacters to quote.
MAX_THREAD_ID_CHARS = 128
_THREAD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
# Hex digits of a new thread id: short enough to type, 48 bits against collisions.
NEW_THREAD_ID_HEX = 12


@dataclass(frozen=True)
class RunStart:
    """How the command starts on its thread."""

    resume: bool
    """Continue the thread's interrupted run (no new input) instead of starting a turn."""
    finished: bool = False
    """The run asked to be resumed had finished: show its answer, run nothing."""


def new_thread_id() -> str:
    """A fresh thread id for a run that names none."""
    return uuid.uuid4().hex[:NEW_THREAD_ID_HEX]


def check_thread_id(thread: str) -> str:
    """`thread` as given, or a `RunResumeError` saying what an id may be."""
    if len(thread) > MAX_THREAD_ID_CHARS or not _THREAD_ID.match(thread):
        raise RunResumeError(
            f"{thread!r} is not a thread id: use letters, digits and . _ : - (at most "
            f"{MAX_THREAD_ID_CHARS}), e.g. the id `orquestra run` printed."
        )
    return thread


def resume_command(thread: str) -> str:
    """The command that finishes `thread`'s interrupted run."""
    return f"orquestra run --thread {thread} --resume"


def thread_line(thread: str, store: CheckpointStore) -> str:
    """What a run prints first: its thread, where it is kept, and how to resume it."""
    return (
        f"thread {thread} (kept in {store.shown}; if interrupted, resume with: "
        f"{resume_command(thread)})"
    )


def decide_start(
    thread: str,
    *,
    resume: bool,
    store: CheckpointStore,
    has_run: bool,
    pending: tuple[str, ...],
) -> RunStart:
    """How to start on `thread`, given its last checkpoint (`has_run`, the `pending` nodes).

    Raises:
        RunResumeError: `--resume` with nothing to resume, or a new request on a thread
            whose run was interrupted (a new turn would drop that run's finished steps).
    """
    if resume and not store.persistent:
        raise RunResumeError(
            f"Nothing to resume: {SETTING} is not set, so runs are kept in memory and end "
            f"with their process. Set {SETTING}=postgresql://… (or sqlite:///threads.db) "
            "before a run to make it resumable."
        )
    if resume and not has_run:
        raise RunResumeError(
            f"No run in thread {thread} at {store.shown}: give the id the run printed, "
            f"with the same {SETTING}."
        )
    if resume:
        return RunStart(resume=bool(pending), finished=not pending)
    if pending:
        raise RunResumeError(
            f"Thread {thread} has an interrupted run (next: {', '.join(pending)}): finish it "
            f"with `{resume_command(thread)}`, or leave out --thread to start a new one."
        )
    return RunStart(resume=False)
