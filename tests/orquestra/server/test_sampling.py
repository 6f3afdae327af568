"""A request's sampling options as the chat model's call kwargs (pure translation)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from orquestra.policy.pinning import RUNNER_OPTIONS
from orquestra.server.openai import to_native
from orquestra.server.sampling import UNLIMITED_TOKENS, SamplingError, sampling_kwargs


def test_ollama_sampling_options_become_llama_cpp_call_kwargs() -> None:
    options = {
        "temperature": 0.7,
        "seed": 42,
        "stop": ["\n\n", "END"],
        "top_p": 0.9,
        "top_k": 20,
        "repeat_penalty": 1.1,
        "num_predict": 3,
    }
    assert sampling_kwargs(options) == {
        "temperature": 0.7,
        "seed": 42,
        "stop": ["\n\n", "END"],
        "top_p": 0.9,
        "top_k": 20,
        "repeat_penalty": 1.1,
        "max_tokens": 3,
    }


def test_the_other_llama_cpp_samplers_pass_too() -> None:
    options = {"min_p": 0.05, "typical_p": 0.9, "presence_penalty": 0.5, "frequency_penalty": 0.25}
    assert sampling_kwargs(options) == options


def test_runner_and_unknown_options_are_not_sampling() -> None:
    pinned = dict.fromkeys(RUNNER_OPTIONS, 1)
    assert sampling_kwargs({**pinned, "num_keep": 4, "mirostat": 2, "penalize_newline": True}) == {}


@pytest.mark.parametrize("options", [None, {}, {"temperature": None, "seed": None, "stop": None}])
def test_absent_or_null_options_keep_the_chat_model_defaults(options: Any) -> None:
    assert sampling_kwargs(options) == {}


@pytest.mark.parametrize("num_predict", [-1, -2, 0])
def test_a_num_predict_below_one_means_no_limit(num_predict: int) -> None:
    assert sampling_kwargs({"num_predict": num_predict}) == {"max_tokens": UNLIMITED_TOKENS}


@pytest.mark.parametrize(
    ("stop", "sent"),
    [("END", ["END"]), (["a", "b"], ["a", "b"]), (["", "x"], ["x"])],
)
def test_stop_may_be_a_string_or_a_list(stop: Any, sent: list[str]) -> None:
    assert sampling_kwargs({"stop": stop}) == {"stop": sent}


@pytest.mark.parametrize("stop", [[], "", [""]])
def test_an_empty_stop_stops_nothing(stop: Any) -> None:
    assert sampling_kwargs({"stop": stop}) == {}


def test_numbers_take_the_option_s_type_as_ollama_reads_them() -> None:
    kwargs = sampling_kwargs({"seed": 42.0, "top_k": 3.9, "temperature": 1, "num_predict": 8.0})
    assert kwargs == {"seed": 42, "top_k": 3, "temperature": 1.0, "max_tokens": 8}
    assert type(kwargs["seed"]) is int and type(kwargs["temperature"]) is float


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("temperature", "hot"),
        ("seed", "42"),
        ("top_k", True),
        ("top_p", {"value": 0.9}),
        ("num_predict", [3]),
        ("repeat_penalty", "1.1"),
        ("stop", 5),
        ("stop", ["END", 1]),
    ],
)
def test_a_sampling_option_of_the_wrong_type_is_refused_by_name(name: str, value: Any) -> None:
    with pytest.raises(SamplingError, match=rf"option '{name}' must be .*{re.escape(repr(value))}"):
        sampling_kwargs({name: value})


def test_options_that_are_not_an_object_are_refused() -> None:
    with pytest.raises(SamplingError, match="'options' must be an object"):
        sampling_kwargs(["temperature", 0.5])


def test_the_sampling_error_is_a_value_error_so_the_routes_answer_400() -> None:
    assert issubclass(SamplingError, ValueError)


def test_openai_fields_reach_the_chat_model_as_the_same_kwargs() -> None:
    openai = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.0,
        "seed": 7,
        "stop": "END",
        "top_p": 0.5,
        "presence_penalty": 0.5,
        "frequency_penalty": 0.25,
        "max_tokens": 5,
    }
    assert sampling_kwargs(to_native(openai)["options"]) == {
        "temperature": 0.0,
        "seed": 7,
        "stop": ["END"],
        "top_p": 0.5,
        "presence_penalty": 0.5,
        "frequency_penalty": 0.25,
        "max_tokens": 5,
    }
    newer = {"model": "m", "messages": [], "max_completion_tokens": 9, "stop": None}
    assert sampling_kwargs(to_native(newer)["options"]) == {"max_tokens": 9}
