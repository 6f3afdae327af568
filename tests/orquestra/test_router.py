"""IntelligentRouter: intent in English and Portuguese, shapes of text, bad input, model stage."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from langchain_ollama import ChatOllama

from orquestra.router import ASK_MODEL_BELOW, IntelligentRouter
from tests.fakes.ollama import FakeOllama, FakeOllamaState
from tests.routing_cases import BRAIN, EXECUTOR, HYBRID

DEV = Path(__file__).resolve().parents[3] / "shared" / "data" / "routing" / "dev.jsonl"
router = IntelligentRouter()


@pytest.mark.parametrize("text", EXECUTOR)
def test_code_work_goes_to_the_executor(text: str) -> None:
    decision = router.classify(text)
    assert (decision.role, decision.task_type) == ("executor", "code"), decision.reasons


@pytest.mark.parametrize("text", BRAIN)
def test_planning_questions_and_conversation_go_to_the_brain(text: str) -> None:
    decision = router.classify(text)
    assert decision.role == "brain", decision.reasons


@pytest.mark.parametrize("text", HYBRID)
def test_plan_then_execute_is_hybrid_and_starts_with_the_brain(text: str) -> None:
    decision = router.classify(text)
    assert (decision.task_type, decision.role) == ("hybrid", "brain"), decision.reasons


def test_founding_design_examples() -> None:
    assert router.classify("Analise e planeje uma solução").task_type == "planning"
    assert router.classify("Crie um script Python que soma números").task_type == "code"
    assert router.classify("Planeje e execute uma tarefa complexa").task_type == "hybrid"
    assert router.classify("Olá! Como você está?").task_type == "conversation"


def test_accents_and_casing_do_not_change_the_decision() -> None:
    plain = router.classify("explique a diferenca entre listas e tuplas")
    shouted = router.classify("EXPLIQUE A DIFERENÇA ENTRE LISTAS E TUPLAS")
    assert (plain.role, plain.task_type, plain.score) == (
        shouted.role,
        shouted.task_type,
        shouted.score,
    )


def test_a_stack_trace_makes_a_why_question_code_work() -> None:
    question = "why does this fail?"
    assert router.classify(question).role == "brain"
    with_trace = (
        question + '\n\nTraceback (most recent call last):\n  File "m.py", line 2\n'
        "TypeError: unsupported operand type(s) for +: 'int' and 'str'"
    )
    decision = router.classify(with_trace)
    assert decision.role == "executor" and any("traceback" in r for r in decision.reasons)


def test_questions_about_code_without_code_work_stay_with_the_brain() -> None:
    assert router.classify("Explain the difference between Python and JavaScript").role == "brain"
    decision = router.classify("What does this code do?\n```python\nprint(sum([1, 2]))\n```")
    assert decision.role == "brain" and any("question about code" in r for r in decision.reasons)


def test_decisions_carry_reasons_and_confidence() -> None:
    decision = router.classify("Write a Python function that reverses a string")
    assert 0.5 < decision.confidence <= 1.0
    assert any(r.startswith("code request") for r in decision.reasons)
    unsure = router.classify("Tell me something")
    assert unsure.confidence < ASK_MODEL_BELOW


@pytest.mark.parametrize("text", ["", "   \n\t  ", "\x00\x00"])
def test_empty_input_is_low_confidence_conversation(text: str) -> None:
    decision = router.classify(text.replace("\x00", " "))
    assert (decision.task_type, decision.role) == ("conversation", "brain")
    assert decision.confidence <= 0.1


@pytest.mark.parametrize(
    "text",
    [
        "🚀🔥💻" * 1000,
        bytes(range(256)).decode("latin-1") * 40,
        "Write a function " + "x" * 1_000_000,
        ("lorem ipsum dolor " * 60_000) + "\nTraceback (most recent call last):\nKeyError: 'k'",
        "Por favor, write a função em Python that soma dois números, obrigado",
        "写一个Python函数 que calcula o fatorial",
    ],
)
def test_hostile_or_huge_input_gets_a_defined_decision(text: str) -> None:
    decision = router.classify(text)
    assert decision.role in ("brain", "executor")
    assert decision.task_type in ("planning", "code", "hybrid", "conversation")
    assert 0.0 <= decision.confidence <= 1.0


def test_the_tail_of_a_huge_input_is_still_read() -> None:
    text = ("lorem ipsum dolor " * 60_000) + "\nTraceback (most recent call last):\nKeyError: 'k'"
    assert router.classify(text).role == "executor"


@pytest.mark.skipif(not DEV.exists(), reason="shared routing data not present")
def test_dev_set_targets_hold() -> None:
    rows = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
    hits: dict[str, list[bool]] = defaultdict(list)
    recall: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        ok = router.classify(row["text"]).role == row["route"]
        hits[row["source"]].append(ok)
        recall[row["route"]].append(ok)
    balanced = sum(sum(v) / len(v) for v in recall.values()) / len(recall)
    assert balanced >= 0.97
    assert all(sum(v) / len(v) >= 0.9 for v in hits.values()), {
        k: sum(v) / len(v) for k, v in hits.items()
    }


@pytest.fixture
def ollama_chat():  # type: ignore[no-untyped-def]
    state = FakeOllamaState([], vram_total_gb=16)
    from tests.fakes.ollama import fake_model

    state.models = {m.name: m for m in [fake_model("router-model:1b", 3.0)]}
    server = FakeOllama(state).start()
    yield state, ChatOllama(model="router-model:1b", base_url=server.url)
    server.stop()


async def test_low_confidence_asks_the_resident_model(ollama_chat) -> None:  # type: ignore[no-untyped-def]
    state, chat = ollama_chat
    state.replies = [json.dumps({"task_type": "hybrid", "reason": "needs a plan, then code"})]
    decision = await router.aclassify("Tell me something", chat)
    assert (decision.task_type, decision.role, decision.source) == ("hybrid", "brain", "model")
    assert decision.reasons[-1] == "model: needs a plan, then code"
    body = next(b for path, b in state.requests if path == "/api/chat")
    assert body["format"]["properties"]["task_type"]["enum"] == [
        "planning",
        "code",
        "hybrid",
        "conversation",
    ]


async def test_confident_decisions_never_call_the_model(ollama_chat) -> None:  # type: ignore[no-untyped-def]
    state, chat = ollama_chat
    decision = await router.aclassify("Write a Python function that sorts a list", chat)
    assert decision.source == "rules" and state.requests == []


async def test_a_failing_model_leaves_the_rule_decision(ollama_chat) -> None:  # type: ignore[no-untyped-def]
    state, chat = ollama_chat
    state.replies = ["this is not json"]
    decision = await router.aclassify("Tell me something", chat)
    assert decision.source == "rules" and "model unavailable" in decision.reasons[-1]
