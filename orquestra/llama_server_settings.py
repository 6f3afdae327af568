"""The settings of the llama-server backend (part of `orquestra.settings.Settings`)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings

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


class LlamaServerFields(BaseSettings):
    """Where the user's router-mode llama-server listens, and the KV kept across swaps."""

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

    @field_validator("llama_server_url")
    @classmethod
    def _llama_server_url(cls, value: str) -> str:
        return http_url(value, DEFAULT_LLAMA_SERVER_URL)
