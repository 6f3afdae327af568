"""ChatOpenAI for a llama-server router: llama.cpp's own sampling kwargs reach it too.

A request's sampling options are bound to the chat model under llama.cpp's names
(`orquestra.server.sampling`). The OpenAI ones (`temperature`, `seed`, `stop`,
`max_tokens`, `top_p`, the presence and frequency penalties) are fields of OpenAI's
API; the rest are not, and the OpenAI client would refuse them, so they go in the
request body as they are, where llama-server reads them.
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import LanguageModelInput
from langchain_openai import ChatOpenAI

# llama-server's sampling parameters that OpenAI's chat completions API does not have.
LLAMA_SERVER_PARAMS = ("top_k", "min_p", "typical_p", "repeat_penalty")


class LlamaServerChatOpenAI(ChatOpenAI):
    """ChatOpenAI that sends llama-server's own sampling kwargs in the body (`extra_body`).

    Unlike the embedded model, the router keeps its prompt cache for a seeded request:
    the same seed gave the same reply with the prompt cached or read afresh (measured).
    """

    def _get_request_payload(
        self,
        input_: LanguageModelInput,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = super()._get_request_payload(input_, stop=stop, **kwargs)
        extra = {key: payload.pop(key) for key in LLAMA_SERVER_PARAMS if key in payload}
        if extra:
            payload["extra_body"] = {**(payload.get("extra_body") or {}), **extra}
        return payload
