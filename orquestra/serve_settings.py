"""The settings of `orquestra serve` and of its clients (part of `orquestra.settings.Settings`)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings

# Where `orquestra serve` listens unless told otherwise (next to Ollama's 11434).
DEFAULT_SERVE_HOST = "127.0.0.1"
DEFAULT_SERVE_PORT = 11435
# Ollama's own pending-request limit (OLLAMA_MAX_QUEUE's default).
DEFAULT_MAX_QUEUE = 512
# An autostarted scheduler exits after this long with no client.
DEFAULT_IDLE_EXIT_S = 600.0
# ORQUESTRA_URL value that keeps the in-process manager.
IN_PROCESS = "none"


class ServeFields(BaseSettings):
    """Where the one scheduler per GPU listens, and whether clients use it."""

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

    @property
    def in_process(self) -> bool:
        """Whether this process keeps its own manager (`ORQUESTRA_URL=none`)."""
        return self.orquestra_url.strip().lower() == IN_PROCESS

    @property
    def scheduler_url(self) -> str:
        """The scheduler's URL: `ORQUESTRA_URL`, else the default address."""
        given = self.orquestra_url.strip().rstrip("/")
        return given or f"http://{self.serve_host}:{self.serve_port}"
