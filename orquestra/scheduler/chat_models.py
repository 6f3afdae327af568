"""Chat models for the roles, bound to each role's pinned options, kept when reusable."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel

from orquestra.backends.base import ModelBackend
from orquestra.settings import Role, Settings


class ChatModels:
    """One chat model per role for a server backend; a fresh one per use in-process."""

    def __init__(self, settings: Settings, backend: ModelBackend) -> None:
        self._settings = settings
        self._backend = backend
        self._kept: dict[Role, BaseChatModel] = {}

    def for_role(self, role: Role) -> BaseChatModel:
        """The chat model for `role` (its model must be resident for in-process backends)."""
        if role in self._kept:
            return self._kept[role]
        settings = self._settings
        chat = self._backend.chat_model(
            settings.model_for(role), settings.options_for(role), settings.keep_alive_for(role)
        )
        if self._backend.capabilities.reusable_chat_models:
            self._kept[role] = chat
        return chat
