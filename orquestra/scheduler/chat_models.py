"""Chat models for the pinned specs, bound to their runner options, kept when reusable."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel

from orquestra.backends.base import ModelBackend
from orquestra.lineup import ModelSpec


class ChatModels:
    """One chat model per spec for a server backend; a fresh one per use in-process."""

    def __init__(self, backend: ModelBackend) -> None:
        self._backend = backend
        self._kept: dict[ModelSpec, BaseChatModel] = {}

    def for_spec(self, spec: ModelSpec) -> BaseChatModel:
        """The chat model for `spec` (resident first, for in-process backends)."""
        kept = self._kept.get(spec)
        if kept is not None:
            return kept
        chat = self._backend.chat_model(spec.model, spec.options, spec.keep_alive)
        if self._backend.capabilities.reusable_chat_models:
            self._kept[spec] = chat
        return chat
