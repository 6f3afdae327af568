"""Settings: environment variables, `.env` and keyword overrides, validated once.

Every field has one environment variable (in `validation_alias`), so an error names the
variable to fix. Overrides use the field names (`load_settings(brain_model="qwen2.5:14b")`).
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any, Literal, get_args

import platformdirs
from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import SettingsConfigDict

from orquestra.errors import SettingsError
from orquestra.llama_server_settings import LlamaServerFields, http_url
from orquestra.serve_settings import ServeFields

Role = Literal["brain", "executor"]
ROLES: tuple[Role, ...] = ("brain", "executor")


def check_role(role: str) -> Role:
    """`role` as a `Role`, or a ValueError naming the two roles there are."""
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}: use 'brain' or 'executor'.")
    return role


SwapPolicy = Literal["alternate", "coresident", "auto"]
BackendName = Literal["ollama", "embedded", "llama-server", "auto"]
EmbeddedLoad = Literal["mapped", "copied"]
HomeRole = Literal["brain", "executor", "none"]

DEFAULT_BRAIN_MODEL = "qwen2.5-32b-instruct-moe-rtx"
DEFAULT_EXECUTOR_MODEL = "qwen2.5-coder:14b"
DEFAULT_OLLAMA_URL = "http://localhost:11434"
DEFAULT_NUM_CTX = 8192
# Ollama's num_gpu is the number of layers to offload; any count above the model's
# layer count means "all of them", so each model stays 100 % on the GPU.
ALL_LAYERS_ON_GPU = 999
# Keep models loaded until Orquestra unloads them: the manager, not a server timer,
# decides every unload.
KEEP_ALIVE_FOREVER = "-1"

# A Go duration ("10m", "1h30m", "300ms", "-1m") or a number of seconds ("300", "-1").
_GO_DURATION = re.compile(r"^-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


class Settings(ServeFields, LlamaServerFields):
    """Orquestra's configuration; each field says which variable sets it."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        frozen=True,
        allow_inf_nan=False,  # `inf` GiB or `nan` seconds are typos, not settings
    )

    brain_model: str = Field(
        DEFAULT_BRAIN_MODEL,
        validation_alias=AliasChoices("DEFAULT_MODEL", "brain_model"),
        description="Ollama tag of the brain (planning, reasoning, tools, reflection).",
    )
    executor_model: str = Field(
        DEFAULT_EXECUTOR_MODEL,
        validation_alias=AliasChoices("EXECUTOR_MODEL", "executor_model"),
        description="Ollama tag of the coder executor (writes, runs and debugs code).",
    )
    ollama_base_url: str = Field(
        DEFAULT_OLLAMA_URL,
        validation_alias=AliasChoices("OLLAMA_BASE_URL", "ollama_base_url"),
        description="Where the Ollama server listens.",
    )
    backend: BackendName = Field(
        "auto",
        validation_alias=AliasChoices("ORQUESTRA_BACKEND", "backend"),
        description="Model backend: ollama, embedded (llama.cpp in-process), llama-server or auto.",
    )
    embedded_load: EmbeddedLoad = Field(
        "mapped",
        validation_alias=AliasChoices("ORQUESTRA_EMBEDDED_LOAD", "embedded_load"),
        description=(
            "Embedded weights: mapped (swaps at page-cache speed, context kept) or copied "
            "(repacked for the CPU: faster generation on some CPUs, full reload per swap)."
        ),
    )
    vram_budget_gb: float | None = Field(
        None,
        gt=0,
        validation_alias=AliasChoices("ORQUESTRA_VRAM_BUDGET_GB", "vram_budget_gb"),
        description="GiB of VRAM Orquestra may fill; default: the GPU's total (16 without NVML).",
    )
    vram_margin_gb: float = Field(
        0.5,
        ge=0,
        validation_alias=AliasChoices("ORQUESTRA_VRAM_MARGIN_GB", "vram_margin_gb"),
        description="Headroom kept free when policy auto decides whether both models fit.",
    )
    swap_policy: SwapPolicy = Field(
        "auto",
        validation_alias=AliasChoices("ORQUESTRA_SWAP_POLICY", "swap_policy"),
        description="alternate (one at a time), coresident (both) or auto (both when they fit).",
    )
    allow_partial_offload: bool = Field(
        False,
        validation_alias=AliasChoices("ORQUESTRA_ALLOW_PARTIAL_OFFLOAD", "allow_partial_offload"),
        description="Accept a model that only partly fits on the GPU (slow CPU/GPU split).",
    )
    brain_num_ctx: int = Field(
        DEFAULT_NUM_CTX,
        ge=256,
        validation_alias=AliasChoices("ORQUESTRA_BRAIN_NUM_CTX", "brain_num_ctx"),
        description="Context window of the brain, pinned on every request.",
    )
    executor_num_ctx: int = Field(
        DEFAULT_NUM_CTX,
        ge=256,
        validation_alias=AliasChoices("ORQUESTRA_EXECUTOR_NUM_CTX", "executor_num_ctx"),
        description="Context window of the executor, pinned on every request.",
    )
    brain_num_gpu: int = Field(
        ALL_LAYERS_ON_GPU,
        ge=-1,
        validation_alias=AliasChoices("ORQUESTRA_BRAIN_NUM_GPU", "brain_num_gpu"),
        description="Layers of the brain offloaded to the GPU (999 = all).",
    )
    executor_num_gpu: int = Field(
        ALL_LAYERS_ON_GPU,
        ge=-1,
        validation_alias=AliasChoices("ORQUESTRA_EXECUTOR_NUM_GPU", "executor_num_gpu"),
        description="Layers of the executor offloaded to the GPU (999 = all).",
    )
    brain_keep_alive: str = Field(
        KEEP_ALIVE_FOREVER,
        validation_alias=AliasChoices("ORQUESTRA_BRAIN_KEEP_ALIVE", "brain_keep_alive"),
        description="Ollama keep_alive of the brain (seconds or a duration such as 10m).",
    )
    executor_keep_alive: str = Field(
        KEEP_ALIVE_FOREVER,
        validation_alias=AliasChoices("ORQUESTRA_EXECUTOR_KEEP_ALIVE", "executor_keep_alive"),
        description="Ollama keep_alive of the executor (seconds or a duration such as 10m).",
    )
    home_role: HomeRole = Field(
        "brain",
        validation_alias=AliasChoices("ORQUESTRA_HOME_ROLE", "home_role"),
        description="Model brought back after the other one goes idle; none turns it off.",
    )
    home_after_s: float = Field(
        2.0,
        ge=0,
        validation_alias=AliasChoices("ORQUESTRA_HOME_AFTER_S", "home_after_s"),
        description="Idle seconds of the non-home model before the home model comes back.",
    )
    batch_limit: int = Field(
        8,
        ge=1,
        validation_alias=AliasChoices("ORQUESTRA_BATCH_LIMIT", "batch_limit"),
        description="Newer requests served by the resident model while the other role waits.",
    )
    unload_timeout_s: float = Field(
        15.0,
        gt=0,
        validation_alias=AliasChoices("ORQUESTRA_UNLOAD_TIMEOUT_S", "unload_timeout_s"),
        description="Longest wait for an unloaded model to leave the server's /api/ps.",
    )
    vram_settle_timeout_s: float = Field(
        5.0,
        gt=0,
        validation_alias=AliasChoices("ORQUESTRA_VRAM_SETTLE_TIMEOUT_S", "vram_settle_timeout_s"),
        description="Longest wait for NVML to show an unloaded model's memory back.",
    )
    load_timeout_s: float = Field(
        300.0,
        gt=0,
        validation_alias=AliasChoices("ORQUESTRA_LOAD_TIMEOUT_S", "load_timeout_s"),
        description="Longest wait for one model load (Ollama's own default is 5 minutes).",
    )
    prefetch: bool = Field(
        True,
        validation_alias=AliasChoices("ORQUESTRA_PREFETCH", "prefetch"),
        description=(
            "Read the next model's weights into the page cache while the graph works, and the "
            "model that is out after each swap."
        ),
    )
    prefetch_reserve_gb: float = Field(
        2.0,
        ge=0,
        validation_alias=AliasChoices("ORQUESTRA_PREFETCH_RESERVE_GB", "prefetch_reserve_gb"),
        description="RAM a prefetch always leaves available to everything else.",
    )
    gpu_index: int = Field(
        0,
        ge=0,
        validation_alias=AliasChoices("ORQUESTRA_GPU_INDEX", "gpu_index"),
        description="NVML index of the GPU Ollama uses.",
    )
    cache_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_cache_dir("orquestra")),
        validation_alias=AliasChoices("ORQUESTRA_CACHE_DIR", "cache_dir"),
        description="Where the footprint ledger (and later the embedded models) are kept.",
    )

    @field_validator("brain_model", "executor_model")
    @classmethod
    def _model_name(cls, value: str) -> str:
        value = value.strip()
        if not value or any(ch.isspace() for ch in value):
            raise ValueError("a model name is a non-empty Ollama tag such as 'qwen2.5-coder:14b'")
        return value

    @field_validator("ollama_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_url(value, DEFAULT_OLLAMA_URL)

    @field_validator("brain_keep_alive", "executor_keep_alive")
    @classmethod
    def _keep_alive(cls, value: str) -> str:
        value = str(value).strip()
        if _NUMBER.match(value) or _GO_DURATION.match(value):
            return value
        raise ValueError("keep_alive is seconds (-1 = forever, 0 = unload) or a duration like 10m")

    def model_for(self, role: Role) -> str:
        """Return the model tag that serves `role`."""
        return self.brain_model if role == "brain" else self.executor_model

    def options_for(self, role: Role) -> dict[str, int]:
        """Return the runner options pinned for `role` (sent on every request, load included)."""
        if role == "brain":
            return {"num_ctx": self.brain_num_ctx, "num_gpu": self.brain_num_gpu}
        return {"num_ctx": self.executor_num_ctx, "num_gpu": self.executor_num_gpu}

    def keep_alive_for(self, role: Role) -> float | str:
        """Return the role's keep_alive as Ollama accepts it (number = seconds)."""
        raw = self.brain_keep_alive if role == "brain" else self.executor_keep_alive
        return float(raw) if _NUMBER.match(raw) else raw


def _env_name(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        first = alias.choices[0]
        return first if isinstance(first, str) else field
    return field


def _allowed(field: str) -> str:
    annotation = Settings.model_fields[field].annotation
    choices = get_args(annotation) if typing.get_origin(annotation) is Literal else ()
    return f" Allowed values: {', '.join(map(str, choices))}." if choices else ""


def _field_of(loc: object) -> str | None:
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        names = {name, *(alias.choices if isinstance(alias, AliasChoices) else ())}
        if loc in names:
            return name
    return None


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment, `.env` and `overrides`.

    Raises:
        SettingsError: A value is invalid; the message names the variable, the value
            and the values allowed, one line per problem.
    """
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        raise SettingsError(
            f"Unknown setting(s): {', '.join(unknown)}. "
            f"Known: {', '.join(sorted(Settings.model_fields))}."
        )
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = _field_of(error["loc"][0]) if error["loc"] else None
            var = _env_name(field) if field else ".".join(map(str, error["loc"]))
            value = error.get("input")
            lines.append(
                f"{var}={value!r} is invalid: {error['msg']}." + (_allowed(field) if field else "")
            )
        raise SettingsError("Invalid Orquestra settings:\n  " + "\n  ".join(lines)) from None
