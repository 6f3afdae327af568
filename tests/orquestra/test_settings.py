"""Settings: defaults, environment, .env, and errors that name the variable to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from orquestra.errors import SettingsError
from orquestra.lineup import Lineup, Upstream
from orquestra.settings import load_settings


def test_defaults_follow_the_founding_design() -> None:
    s = load_settings()
    assert s.brain_model == "qwen2.5-32b-instruct-moe-rtx"
    assert s.executor_model == "qwen2.5-coder:14b"
    assert s.ollama_base_url == "http://localhost:11434"
    assert s.swap_policy == "auto" and s.backend == "auto"
    lineup = Lineup.of(s, Upstream.of(s, "ollama"))
    assert lineup.brain.options == {"num_ctx": 8192, "num_gpu": 999}
    assert lineup.executor.options == {"num_ctx": 8192, "num_gpu": 999}
    assert lineup.upstream.url == "http://localhost:11434"
    assert s.home_role == "brain" and s.home_after_s == 2.0
    assert s.vram_budget_gb is None


def test_environment_sets_models_url_and_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_MODEL", "qwen2.5:32b")
    monkeypatch.setenv("EXECUTOR_MODEL", "qwen2.5-coder:7b")
    monkeypatch.setenv("OLLAMA_BASE_URL", "gpu-box:11434/")
    monkeypatch.setenv("ORQUESTRA_SWAP_POLICY", "alternate")
    monkeypatch.setenv("ORQUESTRA_VRAM_BUDGET_GB", "12.5")
    monkeypatch.setenv("ORQUESTRA_EXECUTOR_NUM_CTX", "16384")
    monkeypatch.setenv("ORQUESTRA_BRAIN_KEEP_ALIVE", "30m")
    s = load_settings()
    assert (s.brain_model, s.executor_model) == ("qwen2.5:32b", "qwen2.5-coder:7b")
    assert s.ollama_base_url == "http://gpu-box:11434"
    assert s.swap_policy == "alternate" and s.vram_budget_gb == 12.5
    lineup = Lineup.of(s, Upstream.of(s, "ollama"))
    assert lineup.executor.options["num_ctx"] == 16384
    assert lineup.brain.keep_alive == "30m" and lineup.executor.keep_alive == -1.0


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("EXECUTOR_MODEL=deepseek-coder:6.7b\nORQUESTRA_HOME_ROLE=none\n")
    s = load_settings()
    assert s.executor_model == "deepseek-coder:6.7b" and s.home_role == "none"


def test_keyword_overrides_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFAULT_MODEL", "from-env")
    assert load_settings(brain_model="from-kwarg").brain_model == "from-kwarg"


@pytest.mark.parametrize(
    ("var", "value", "expected"),
    [
        ("ORQUESTRA_SWAP_POLICY", "sometimes", "alternate, coresident, auto"),
        ("ORQUESTRA_BACKEND", "vllm", "ollama, embedded, llama-server, auto"),
        ("ORQUESTRA_EMBEDDED_LOAD", "mmap", "mapped, copied"),
        ("ORQUESTRA_HOME_ROLE", "coder", "brain, executor, none"),
        ("ORQUESTRA_VRAM_BUDGET_GB", "-3", "greater than 0"),
        ("ORQUESTRA_VRAM_BUDGET_GB", "sixteen", "valid number"),
        ("ORQUESTRA_BRAIN_KEEP_ALIVE", "300x", "duration like 10m"),
        ("ORQUESTRA_EXECUTOR_NUM_CTX", "100", "greater than or equal to 256"),
        ("EXECUTOR_MODEL", "my model", "Ollama tag"),
    ],
)
def test_invalid_values_name_the_variable_and_the_allowed_values(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert f"{var}={value!r}" in message
    assert expected in message


def test_unknown_keyword_is_an_error_listing_known_ones() -> None:
    with pytest.raises(SettingsError, match=r"Unknown setting.*swap_polcy.*Known:.*swap_policy"):
        load_settings(swap_polcy="auto")


def test_keep_alive_accepts_what_ollama_accepts() -> None:
    for value, expected in [
        ("-1", -1.0),
        ("0", 0.0),
        ("300", 300.0),
        ("1h30m", "1h30m"),
        ("300ms", "300ms"),
    ]:
        s = load_settings(brain_keep_alive=value)
        assert Lineup.of(s, Upstream.of(s, "ollama")).brain.keep_alive == expected


def test_every_setting_is_documented_in_the_readme_table() -> None:
    from pydantic import AliasChoices

    from orquestra.settings import Settings

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        assert isinstance(alias, AliasChoices), name
        variable = str(alias.choices[0])
        if f"`{variable}`" not in readme:
            missing.append(variable)
    assert missing == [], f"add these to README.md's settings table: {missing}"
