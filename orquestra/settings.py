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
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from orquestra.errors import SettingsError

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

# Where `orquestra serve` listens unless told otherwise (next to Ollama's 11434).
DEFAULT_SERVE_HOST = "127.0.0.1"
# Largest request body `orquestra serve` reads, in MiB (a chat with a few images fits).
DEFAULT_MAX_BODY_MB = 64.0
# Event-stream subscribers (open dashboards, `orquestra status --watch`) served at once.
DEFAULT_MAX_SUBSCRIBERS = 32
# Leases held or asked for at once, in all and by one client (a user, or an address).
DEFAULT_MAX_LEASES = 64
DEFAULT_MAX_LEASES_PER_CLIENT = 16
# A lease with no request under it for this long is taken back (the other model may come).
DEFAULT_LEASE_IDLE_S = 90.0
DEFAULT_SERVE_PORT = 11435
# Ollama's own pending-request limit (OLLAMA_MAX_QUEUE's default).
DEFAULT_MAX_QUEUE = 512
# An autostarted scheduler exits after this long with no client.
DEFAULT_IDLE_EXIT_S = 600.0
# ORQUESTRA_URL value that keeps the in-process manager.
IN_PROCESS = "none"

# How often a front reads each node's status (a node that does not answer is taken out).
DEFAULT_NODE_POLL_S = 1.0

# llama-server's own default address.
DEFAULT_LLAMA_SERVER_URL = "http://127.0.0.1:8080"
# Disk the saved KV caches (slot files) may fill before the oldest are dropped.
DEFAULT_KV_CACHE_GB = 4.0


def http_url(value: str, example: str) -> str:
    """`value` as an http(s) URL without a trailing slash (a bare host gets http://)."""
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        value = f"http://{value}"
    if not value.split("://", 1)[1]:
        raise ValueError(f"give a URL such as {example}")
    return value


class Settings(BaseSettings):
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
    residency_fresh_s: float = Field(
        1.0,
        ge=0,
        validation_alias=AliasChoices("ORQUESTRA_RESIDENCY_FRESH_S", "residency_fresh_s"),
        description=(
            "A lease re-reads what the server holds when the last reading is older than this, "
            "so a model unloaded behind the scheduler's back is loaded through the budget "
            "(Ollama, which loads a model by itself when asked for it, is read every lease)."
        ),
    )
    residency_poll_s: float = Field(
        5.0,
        gt=0,
        validation_alias=AliasChoices("ORQUESTRA_RESIDENCY_POLL_S", "residency_poll_s"),
        description="How often `orquestra serve` re-reads what the server holds while idle.",
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

    # -- orquestra serve, and whether clients use it --
    orquestra_url: str = Field(
        "",
        validation_alias=AliasChoices("ORQUESTRA_URL", "orquestra_url"),
        description=(
            "URL of `orquestra serve` for this process's models; empty: the default address "
            "(started when none answers and ORQUESTRA_AUTOSTART is true); none: in-process."
        ),
    )
    autostart: bool = Field(
        True,
        validation_alias=AliasChoices("ORQUESTRA_AUTOSTART", "autostart"),
        description="Start `orquestra serve` in the background when none answers.",
    )
    serve_host: str = Field(
        DEFAULT_SERVE_HOST,
        validation_alias=AliasChoices("ORQUESTRA_SERVE_HOST", "serve_host"),
        description="Address `orquestra serve` listens on.",
    )
    serve_port: int = Field(
        DEFAULT_SERVE_PORT,
        ge=1,
        le=65535,
        validation_alias=AliasChoices("ORQUESTRA_SERVE_PORT", "serve_port"),
        description="Port `orquestra serve` listens on.",
    )
    origins: str = Field(
        "",
        validation_alias=AliasChoices("ORQUESTRA_ORIGINS", "origins"),
        description=(
            "Web page origins `orquestra serve` also answers (comma-separated, * as a "
            "wildcard, as OLLAMA_ORIGINS); localhost, 127.0.0.1 and 0.0.0.0 always are."
        ),
    )
    serve_max_body_mb: float = Field(
        DEFAULT_MAX_BODY_MB,
        gt=0,
        validation_alias=AliasChoices("ORQUESTRA_SERVE_MAX_BODY_MB", "serve_max_body_mb"),
        description="Largest request body `orquestra serve` reads (MiB); larger ones get 413.",
    )
    serve_max_subscribers: int = Field(
        DEFAULT_MAX_SUBSCRIBERS,
        ge=1,
        validation_alias=AliasChoices("ORQUESTRA_SERVE_MAX_SUBSCRIBERS", "serve_max_subscribers"),
        description="Dashboards and other event-stream subscribers served at once; more get 503.",
    )
    serve_max_leases: int = Field(
        DEFAULT_MAX_LEASES,
        ge=1,
        validation_alias=AliasChoices("ORQUESTRA_SERVE_MAX_LEASES", "serve_max_leases"),
        description="Leases held or asked for at once, all clients together; more get 503.",
    )
    serve_max_leases_per_client: int = Field(
        DEFAULT_MAX_LEASES_PER_CLIENT,
        ge=1,
        validation_alias=AliasChoices(
            "ORQUESTRA_SERVE_MAX_LEASES_PER_CLIENT", "serve_max_leases_per_client"
        ),
        description="Leases one client (a user, or an address) may hold or ask for; more get 429.",
    )
    serve_lease_idle_s: float = Field(
        DEFAULT_LEASE_IDLE_S,
        gt=0,
        validation_alias=AliasChoices("ORQUESTRA_SERVE_LEASE_IDLE_S", "serve_lease_idle_s"),
        description="A lease with no request under it for this many seconds is taken back.",
    )
    api_key: SecretStr = Field(
        SecretStr(""),
        validation_alias=AliasChoices("ORQUESTRA_API_KEY", "api_key"),
        description=(
            "Key `orquestra serve` asks of other machines (Authorization: Bearer); needed to "
            "listen beyond loopback (or --no-auth). Clients send it when set."
        ),
    )
    serve_key_file: Path = Field(
        default_factory=lambda: Path(platformdirs.user_config_dir("orquestra")) / "serve.key",
        validation_alias=AliasChoices("ORQUESTRA_SERVE_KEY_FILE", "serve_key_file"),
        description=(
            "The user's private key file: a scheduler proves with it to the user's clients "
            "that it is theirs (made, readable only by the user, when missing)."
        ),
    )
    nodes: str = Field(
        "",
        validation_alias=AliasChoices("ORQUESTRA_NODES", "nodes"),
        description=(
            "URLs of the `orquestra serve` nodes a front places requests on (comma-"
            "separated); set, `orquestra serve` runs as that front."
        ),
    )
    node_poll_s: float = Field(
        DEFAULT_NODE_POLL_S,
        gt=0,
        validation_alias=AliasChoices("ORQUESTRA_NODE_POLL_S", "node_poll_s"),
        description="How often a front reads each node's status (a silent node is taken out).",
    )
    allow_insecure_pull: bool = Field(
        False,
        validation_alias=AliasChoices("ORQUESTRA_ALLOW_INSECURE_PULL", "allow_insecure_pull"),
        description="Let `/api/pull` through `orquestra serve` ask Ollama for `insecure` pulls.",
    )
    serve_max_queue: int = Field(
        DEFAULT_MAX_QUEUE,
        ge=1,
        validation_alias=AliasChoices("ORQUESTRA_SERVE_MAX_QUEUE", "serve_max_queue"),
        description="Requests that may wait for a model before more get 503, as in Ollama.",
    )
    serve_idle_s: float = Field(
        DEFAULT_IDLE_EXIT_S,
        ge=0,
        validation_alias=AliasChoices("ORQUESTRA_SERVE_IDLE_S", "serve_idle_s"),
        description="An autostarted `orquestra serve` exits after this many idle seconds.",
    )
    # -- the llama-server backend --
    llama_server_url: str = Field(
        DEFAULT_LLAMA_SERVER_URL,
        validation_alias=AliasChoices("LLAMA_SERVER_URL", "llama_server_url"),
        description="Where the router-mode llama-server listens (ORQUESTRA_BACKEND=llama-server).",
    )
    kv_cache_gb: float = Field(
        DEFAULT_KV_CACHE_GB,
        ge=0,
        validation_alias=AliasChoices("ORQUESTRA_KV_CACHE_GB", "kv_cache_gb"),
        description=(
            "Disk for KV caches saved before a llama-server model is unloaded and restored "
            "after it is loaded again (oldest dropped first); 0 turns it off."
        ),
    )
    # -- where runs are kept --
    db_url: SecretStr = Field(
        SecretStr(""),
        validation_alias=AliasChoices("ORQUESTRA_DB_URL", "db_url"),
        description=(
            "Where runs' checkpoints are kept: postgresql://… (shared by machines; the "
            "`postgres` extra), sqlite:///path (this machine); empty: this process's memory."
        ),
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

    @field_validator("llama_server_url")
    @classmethod
    def _llama_server_url(cls, value: str) -> str:
        return http_url(value, DEFAULT_LLAMA_SERVER_URL)

    @property
    def node_urls(self) -> list[str]:
        """The nodes of `ORQUESTRA_NODES`, each an http(s) URL."""
        return [http_url(u, "http://127.0.0.1:11435") for u in self.nodes.split(",") if u.strip()]

    @property
    def in_process(self) -> bool:
        """Whether this process keeps its own manager (`ORQUESTRA_URL=none`)."""
        return self.orquestra_url.strip().lower() == IN_PROCESS

    @property
    def scheduler_url(self) -> str:
        """The scheduler's URL: `ORQUESTRA_URL`, else the default address."""
        given = self.orquestra_url.strip().rstrip("/")
        return given or f"http://{self.serve_host}:{self.serve_port}"


def env_name(field: str) -> str:
    """The environment variable that sets `field`."""
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
            var = env_name(field) if field else ".".join(map(str, error["loc"]))
            value = error.get("input")
            lines.append(
                f"{var}={value!r} is invalid: {error['msg']}." + (_allowed(field) if field else "")
            )
        raise SettingsError("Invalid Orquestra settings:\n  " + "\n  ".join(lines)) from None
