"""Runs that survive a machine: `orquestra run --thread/--resume` and the commander, on PostgreSQL.

A run interrupted in one process (a real Ctrl-C in a terminal, or a backend that died)
is finished by another process from its thread id, and the step that had finished (the
brain's plan, counted on the fake Ollama) is not made again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import orquestra
from orquestra.app.cli import app
from orquestra.app.threads import resume_command
from orquestra.manager import ModelManager
from tests.fakes.ollama import FakeOllamaState
from tests.graph_support import BRAIN, EXECUTOR, code_reply, plan_reply, plans
from tests.orquestra.app.test_cli_behaviour import SLEEPER, sleepers, wait_for_sleeper
from tests.terminal import PATIENCE_S, Terminal

runner = CliRunner()
HYBRID = "Planeje e execute: crie um script Python que soma os números de 1 a 10"
# One commander's turn, as a separate program runs it: the thread and the message in argv.
COMMANDER_TURN = """
import asyncio, sys
from orquestra import create_smart_commander

async def main() -> None:
    async with create_smart_commander(thread_id=sys.argv[1]) as commander:
        print(await commander.process_message(sys.argv[2]))

asyncio.run(main())
"""


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


@pytest.fixture
def kept(demo: FakeOllamaState, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> FakeOllamaState:
    """The demo's fake Ollama, with runs kept in a fresh PostgreSQL database."""
    monkeypatch.setenv("ORQUESTRA_DB_URL", pg_url)
    return demo


@pytest.mark.skipif(shutil.which("pgrep") is None, reason="needs pgrep")
def test_a_run_ctrl_c_after_its_plan_resumes_in_another_process_without_planning_again(
    kept: FakeOllamaState,
) -> None:
    kept.model_replies[EXECUTOR] = [code_reply(SLEEPER)]  # the code runs for an hour
    try:
        first = Terminal("run", "--thread", "run-1", HYBRID)
        wait_for_sleeper(first)  # planned, swapped, the executor's code running
        first.press_ctrl_c()
        assert first.finish() == 130, first.text
    finally:
        for pid in sleepers():
            subprocess.run(["kill", "-9", pid], check=False)
    assert "thread run-1" in first.text  # printed first, so the user knows what to resume
    assert f"resume it with: {resume_command('run-1')}" in first.text
    assert len(plans(kept)) == 1

    second = Terminal("run", "--thread", "run-1", "--resume")  # another process
    assert second.finish() == 0, second.text
    assert "55" in second.text and "Traceback" not in second.text
    assert len(plans(kept)) == 1  # the finished plan was not made again


def test_a_run_whose_backend_died_is_resumed_only_by_resume(kept: FakeOllamaState) -> None:
    def plan_then_die(body: dict[str, Any]) -> str:
        kept.down = True  # Ollama dies right after answering the plan
        return plan_reply(("Write and run a script that sums 1 to 10", True))

    kept.script(BRAIN, plan_then_die)
    failed = runner.invoke(app, ["run", "--thread", "run-2", HYBRID])
    assert failed.exit_code == 1 and "Cannot reach Ollama" in failed.stderr
    kept.down = False

    again = runner.invoke(app, ["run", "--thread", "run-2", "Outra coisa"])
    assert again.exit_code == 2, again.output
    assert error_lines(again.stderr) and "has an interrupted run" in again.stderr
    assert resume_command("run-2") in " ".join(again.stderr.split())

    resumed = runner.invoke(app, ["run", "--json", "--thread", "run-2", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    final = json.loads(resumed.stdout)
    assert final["thread_id"] == "run-2" and "55" in final["answer"]
    assert len(plans(kept)) == 1

    done = runner.invoke(app, ["run", "--thread", "run-2", "--resume"])
    assert done.exit_code == 0 and "had finished: nothing to resume" in done.stdout
    assert len(plans(kept)) == 1


def test_resume_without_a_kept_run_says_what_is_missing(demo: FakeOllamaState) -> None:
    unset = runner.invoke(app, ["run", "--thread", "run-3", "--resume"])
    assert unset.exit_code == 2 and "ORQUESTRA_DB_URL is not set" in unset.stderr
    no_thread = runner.invoke(app, ["run", "--resume"])
    assert no_thread.exit_code == 2 and "--resume needs the run's thread" in no_thread.stderr
    both = runner.invoke(app, ["run", "--thread", "run-3", "--resume", "Olá"])
    assert both.exit_code == 2 and "not both" in both.stderr
    bad_id = runner.invoke(app, ["run", "--thread", "a b;rm", "Olá"])
    assert bad_id.exit_code == 2 and "is not a thread id" in bad_id.stderr
    assert demo.loads == {}  # refused before any model was touched


def test_resume_of_a_thread_that_never_ran_names_the_id(kept: FakeOllamaState) -> None:
    unknown = runner.invoke(app, ["run", "--thread", "never-ran", "--resume"])
    assert unknown.exit_code == 2 and "No run in thread never-ran" in unknown.stderr
    assert kept.loads == {}


@pytest.mark.parametrize(
    ("url", "code", "says"),
    [
        ("mysql://orq:s3cret@db/runs", 2, "postgresql://user:password@host:5432/dbname"),
        ("postgresql://orq:s3cret@127.0.0.1:9/runs", 1, "Cannot reach PostgreSQL at 127.0.0.1:9"),
        ("postgresql://orq:s3cret@db/runs", 1, "pip install 'orquestra-agent[postgres]'"),
    ],
    ids=["bad-url", "unreachable", "missing-extra"],
)
def test_a_store_that_cannot_be_used_is_one_line_naming_the_fix(
    demo: FakeOllamaState,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    code: int,
    says: str,
) -> None:
    if "Cannot reach" in says:
        pytest.importorskip("psycopg", reason="needs the postgres extra")
    monkeypatch.setenv("ORQUESTRA_DB_URL", url)
    if "pip install" in says:
        monkeypatch.setitem(sys.modules, "langgraph.checkpoint.postgres.aio", None)
    result = runner.invoke(app, ["run", "Olá"])
    assert result.exit_code == code, result.output
    assert len(error_lines(result.stderr)) == 1 and says in " ".join(result.stderr.split())
    assert "s3cret" not in result.output and "Traceback" not in result.output
    assert demo.loads == {}


def test_the_commander_keeps_a_conversation_across_processes(
    kept: FakeOllamaState, tmp_path: Path
) -> None:
    kept.script(BRAIN, "Oi! Sou o Orquestra.", "Você disse oi.")

    def turn(message: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", COMMANDER_TURN, "conversa-1", message],
            cwd=tmp_path,
            env=os.environ.copy(),
            capture_output=True,
            text=True,
            timeout=PATIENCE_S,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    assert "Oi! Sou o Orquestra." in turn("Oi!")
    assert "Você disse oi." in turn("O que eu disse antes?")
    last_request = [b for p, b in kept.requests if p == "/api/chat"][-1]
    contents = [m["content"] for m in last_request["messages"]]
    assert "Oi!" in contents and "Oi! Sou o Orquestra." in contents


async def test_the_commander_finishes_an_interrupted_run_without_planning_again(
    wired: ModelManager, state: FakeOllamaState
) -> None:
    def plan_then_die(body: dict[str, Any]) -> str:
        state.down = True
        return plan_reply(("sum", True))

    state.script(BRAIN, plan_then_die, code_reply("print(55)"), "The sum is 55.")
    state.script(EXECUTOR, code_reply("print(sum(range(1, 11)))"))
    async with orquestra.create_smart_commander(manager=wired) as commander:
        failed = await commander.process_message("Planeje e execute a soma de 1 a 10")
        assert failed.startswith("Error: Cannot reach Ollama")
        state.down = False
        assert (await commander.resume()).startswith("The sum is 55.")
        assert len(plans(state)) == 1 and state.chats[f"{BRAIN}:latest"] == 3
        # A finished run gives its answer again and runs nothing.
        assert (await commander.resume()).startswith("The sum is 55.")
        assert state.chats[f"{BRAIN}:latest"] == 3 and state.chats[EXECUTOR] == 1
    async with orquestra.create_smart_commander(manager=wired) as fresh:
        assert (await fresh.resume()).startswith("Error: Nothing to resume")
