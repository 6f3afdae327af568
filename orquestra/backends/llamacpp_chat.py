"""ChatLlamaCpp with structured output through llama.cpp's JSON-schema grammar.

langchain-community's ChatLlamaCpp implements `with_structured_output` by forcing a tool
call, which small models garble (the tool name repeats until the token limit). llama.cpp
can instead constrain the reply to a JSON schema (`response_format`), which even a 1.5B
model follows; this subclass uses that and parses the JSON into the schema.
"""

from __future__ import annotations

from typing import Any

from langchain_community.chat_models import ChatLlamaCpp
from langchain_core.language_models import LanguageModelInput
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.runnables import Runnable
from pydantic import BaseModel


class SchemaChatLlamaCpp(ChatLlamaCpp):  # type: ignore[misc,unused-ignore]
    """ChatLlamaCpp whose structured output is grammar-constrained JSON.

    Its `seed` is sent with every call (langchain-community's only uses it to build the
    model), so `model_copy(update={"temperature": t, "seed": s})` draws a different sample.
    """

    @property
    def _default_params(self) -> dict[str, Any]:
        params: dict[str, Any] = dict(super()._default_params)
        if self.seed >= 0:
            params["seed"] = self.seed
        return params

    def with_structured_output(
        self,
        schema: dict[str, Any] | type[BaseModel] | None = None,
        *,
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Constrain the reply to `schema`'s JSON and parse it (pydantic model or dict)."""
        if schema is None or include_raw or kwargs:
            return super().with_structured_output(  # type: ignore[no-any-return,unused-ignore]
                schema, include_raw=include_raw, **kwargs
            )
        is_model = isinstance(schema, type) and issubclass(schema, BaseModel)
        json_schema = schema.model_json_schema() if is_model else schema  # type: ignore[union-attr]
        bound = self.bind(response_format={"type": "json_object", "schema": json_schema})
        parser: Runnable[Any, Any] = (
            PydanticOutputParser(pydantic_object=schema) if is_model else JsonOutputParser()
        )
        return bound | parser
