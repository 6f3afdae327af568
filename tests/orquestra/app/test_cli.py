"""The `orquestra` command against the fake Ollama server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orquestra.app.cli import app
from tests.fakes.ollama import FakeOllamaState, fake_model

runner = CliRunner()


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich wraps table cells to the terminal; a wide one keeps each fix on one line."""
    monkeypatch.setenv("COLUMNS", "400")


def test_run_json_prints_the_final_state(demo: FakeOllamaState) -> None:
    result = runner.invoke(
        app, ["run", "--json", "Crie um script Python que soma os números de 1 a 10"]
    )
    assert result.exit_code == 0, result.output
    state = json.loads(result.stdout)
    assert state["task_type"] == "code" and state["executions"][0]["stdout"] == "55\n"
    assert "55" in state["answer"] and state["swaps"][0]["to_role"] == "executor"


def test_run_shows_route_swaps_code_output_and_answer(demo: FakeOllamaState) -> None:
    result = runner.invoke(app, ["run", "Planeje e execute a soma de 1 a 10"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "route hybrid → brain" in out
    assert "swapping brain → executor" in out and "swapping executor → brain" in out
    assert "exit 0" in out and "55" in out and "answer" in out


def test_run_reports_an_unreachable_backend_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import orquestra.runtime as runtime

    monkeypatch.setattr(runtime, "llama_available", lambda: False)
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://127.0.0.1:9")
    result = runner.invoke(app, ["run", "Olá"])
    assert result.exit_code == 1
    assert "Error: No model backend" in result.stderr and "ollama serve" in result.stderr
    assert "Traceback" not in result.output


def test_status_json(demo: FakeOllamaState) -> None:
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert status["budget_gb"] == 16.0 and status["brain_loaded"] is False
    assert status["backend"] == "ollama"


def test_doctor_reports_each_check_and_the_fit(demo: FakeOllamaState) -> None:
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "version 0.33.0" in out and "is pulled" in out
    assert "policy auto, they alternate" in out


def test_doctor_fails_with_fixes_when_nothing_is_there(monkeypatch: pytest.MonkeyPatch) -> None:
    import orquestra.app.doctor as doctor

    monkeypatch.setattr(doctor, "llama_available", lambda: False)
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://127.0.0.1:9")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    out = " ".join(result.stdout.split())
    assert "ollama serve" in out and "orquestra-agent[embedded]" in out


def test_doctor_names_missing_models(demo: FakeOllamaState) -> None:
    demo.models.pop("qwen2.5-coder:14b")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "ollama pull qwen2.5-coder:14b" in " ".join(result.stdout.split())


def test_models_list_marks_roles(demo: FakeOllamaState) -> None:
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "qwen2.5-coder:14b" in out and "executor" in out and "qwen2.5-coder-0.5b" in out


def test_models_setup_pulls_and_creates_the_brain(demo: FakeOllamaState) -> None:
    demo.models = {}
    demo.registry = {
        m.name: m
        for m in [
            fake_model("qwen2.5-coder:14b", 9.0),
            fake_model("qwen2.5:32b-instruct-q3_K_M", 13.0),
        ]
    }
    result = runner.invoke(app, ["models", "setup"])
    assert result.exit_code == 0, result.output
    assert set(demo.models) == {
        "qwen2.5-coder:14b",
        "qwen2.5:32b-instruct-q3_K_M",
        "qwen2.5-32b-instruct-moe-rtx:latest",
    }
    created = demo.created["qwen2.5-32b-instruct-moe-rtx:latest"]
    assert created["from"] == "qwen2.5:32b-instruct-q3_K_M"
    assert created["parameters"]["num_ctx"] == 8192
    assert "Ready" in result.stdout


def test_models_setup_reports_an_unknown_base(demo: FakeOllamaState) -> None:
    demo.registry = {}
    result = runner.invoke(app, ["models", "setup", "--brain-base", "nope:1b"])
    assert result.exit_code == 1 and "file does not exist" in result.stderr


def test_run_with_a_workspace_shows_the_diff_and_apply_writes_it(
    demo: FakeOllamaState, tmp_path: Path
) -> None:
    from tests.graph.test_workspace_path import BUGGY, FIXED, fixed_reply, project
    from tests.graph_support import BRAIN

    root = project(tmp_path / "proj")
    request = "os testes de test_solution.py falham, corrija"
    demo.script(BRAIN, fixed_reply())
    shown = runner.invoke(app, ["run", "--workspace", str(root), request])
    assert shown.exit_code == 0, shown.output
    # The failing tests, the diff, the tests passing, and how to apply it.
    assert "Antes: 1 passando, 1 falhando (test_solution.py::test_largest)" in shown.stdout
    assert "-        if v < best:" in shown.stdout and "+        if v > best:" in shown.stdout
    assert "Depois: 2 de 2 passando" in shown.stdout and "orquestra run --apply" in shown.stdout
    assert (root / "solution.py").read_text() == BUGGY
    demo.script(BRAIN, fixed_reply())
    applied = runner.invoke(app, ["run", "--workspace", str(root), "--apply", request])
    assert applied.exit_code == 0, applied.output
    assert "Aplicado aos seus arquivos" in applied.stdout
    assert (root / "solution.py").read_text() == FIXED


def test_run_refuses_a_workspace_that_is_not_a_directory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--workspace", str(tmp_path / "nope"), "fix a.py"])
    assert result.exit_code == 2 and "no such directory" in result.output
