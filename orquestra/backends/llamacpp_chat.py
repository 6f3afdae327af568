"""ChatLlamaCpp with structured output through llama.cpp's JSON-schema grammar.

langchain-community's ChatLlamaCpp implements `with_structured_output` by forcing a tool
call, which small models garble (the tool name repeats until the token limit). llama.cpp
can instead constrain the reply to a JSON schema (`response_format`), which even a 1.5B
model follows; this subclass uses that and parses the JSON into the schema.

It also makes the in-process model safe to stop and to share: every generation runs on
the loaded model's own thread (`ModelThread`: llama.cpp's context is not thread-safe, and
the model is closed on that same thread after the generation in progress), a caller that
stops waiting (a cancelled task, a closed stream) stops its generation at the next step,
so does `stop_generation()` (Ctrl-C) for all of them, and a prompt longer than the
context window raises a clear error instead of llama-cpp-python's bare ValueError. See
`orquestra.backends.stopping` and `orquestra.backends.llama_thread`. Its replies carry
llama.cpp's token counts (`usage_metadata`), which langchain-community's leave out.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from langchain_community.chat_models import ChatLlamaCpp
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from pydantic import BaseModel, PrivateAttr

from orquestra.backends.llama_thread import ModelThread
from orquestra.backends.stopping import AbortFlag, stopper
from orquestra.errors import GenerationStoppedError, RequestTooLongError

_OVERFLOW = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")
CONTEXT_SETTINGS = "ORQUESTRA_BRAIN_NUM_CTX / ORQUESTRA_EXECUTOR_NUM_CTX"
STOPPED = "Generation stopped: the run was interrupted."


def _stopped(exc: RuntimeError, flag: AbortFlag) -> Exception:
    """llama.cpp's aborted decode as the interruption it is; other errors unchanged."""
    if flag.raised():
        return GenerationStoppedError(STOPPED)
    return exc


def too_long(exc: ValueError, model: str) -> RequestTooLongError | None:
    """llama-cpp-python's context overflow as an error that names the sizes and the fix."""
    found = _OVERFLOW.search(str(exc))
    if found is None:
        return None
    asked, window = int(found[1]), int(found[2])
    return RequestTooLongError(
        f"The prompt is {asked:,} tokens but {model}'s context window holds {window:,}. "
        f"Send a shorter request, or raise the context ({CONTEXT_SETTINGS}) if memory allows."
    )


class SchemaChatLlamaCpp(ChatLlamaCpp):  # type: ignore[misc,unused-ignore]
    """ChatLlamaCpp whose structured output is grammar-constrained JSON.

    Its `seed` is sent with every call (langchain-community's only uses it to build the
    model), so `model_copy(update={"temperature": t, "seed": s})` draws a different sample.
    """

    streaming: bool = False
    """Answer `invoke` whole, with its token counts and `stop` (langchain-community's default
    streams it, and its streaming `_generate` drops `stop`). Streaming runs still stream."""
    _thread: ModelThread | None = PrivateAttr(default=None)

    def on_thread(self, thread: ModelThread) -> SchemaChatLlamaCpp:
        """Generate on `thread`, the loaded model's own; returns self."""
        self._thread = thread
        return self

    @property
    def model_thread(self) -> ModelThread:
        """The loaded model's thread (one is made for a model built without the backend)."""
        if self._thread is None:
            self._thread = ModelThread(self._model_name())
        return self._thread

    @property
    def _default_params(self) -> dict[str, Any]:
        from llama_cpp import LogitsProcessorList

        params: dict[str, Any] = dict(super()._default_params)
        if self.seed >= 0:
            params["seed"] = self.seed
        flag = self.model_thread.flag
        params["logits_processor"] = LogitsProcessorList([stopper(self.client.token_eos(), flag)])
        return params

    def _create_chat_result(self, response: dict[str, Any]) -> ChatResult:
        """The reply with llama.cpp's token counts as its `usage_metadata`."""
        result: ChatResult = super()._create_chat_result(response)
        usage = response.get("usage") or {}
        if usage:
            counts = UsageMetadata(
                input_tokens=int(usage.get("prompt_tokens", 0)),
                output_tokens=int(usage.get("completion_tokens", 0)),
                total_tokens=int(usage.get("total_tokens", 0)),
            )
            for generation in result.generations:
                if isinstance(generation.message, AIMessage):
                    generation.message.usage_metadata = counts
        return result

    def _model_name(self) -> str:
        return str(self.model_path).rsplit("/", 1)[-1]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        generate = partial(self._generate_here, messages, stop, run_manager, **kwargs)
        return self.model_thread.call(generate)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        sync_manager = run_manager.get_sync() if run_manager else None
        generate = partial(self._generate_here, messages, stop, sync_manager, **kwargs)
        return await self.model_thread.run(generate)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        produce = partial(self._stream_here, messages, stop, run_manager, **kwargs)
        return self.model_thread.stream(produce)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        sync_manager = run_manager.get_sync() if run_manager else None
        produce = partial(self._stream_here, messages, stop, sync_manager, **kwargs)
        async for chunk in self.model_thread.astream(produce):
            yield chunk

    def _generate_here(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        **kwargs: Any,
    ) -> ChatResult:
        """The generation itself, on the model's thread."""
        with self._generating(kwargs):
            return super()._generate(messages, stop, run_manager, **kwargs)  # type: ignore[no-any-return,unused-ignore]

    def _stream_here(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """The streamed generation itself, on the model's thread."""
        with self._generating(kwargs):
            yield from super()._stream(messages, stop, run_manager, **kwargs)

    @contextmanager
    def _generating(self, kwargs: dict[str, Any]) -> Iterator[None]:
        """llama.cpp's errors made clear, on the model's thread.

        A seed given with the call (a client's request) has the prompt read afresh: a
        prompt read whole and one read from the cache give logits that differ by rounding,
        enough to change a sampled token, and the same seed must give the same reply.
        """
        flag = self.model_thread.flag
        if flag.raised():
            raise GenerationStoppedError(STOPPED)
        if kwargs.get("seed") is not None:
            self.client.reset()
        try:
            yield
        except ValueError as exc:
            raise too_long(exc, self._model_name()) or exc from None
        except RuntimeError as exc:
            raise _stopped(exc, flag) from None

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
