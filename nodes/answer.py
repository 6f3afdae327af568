"""Answers grounded in what ran: which run counts for each step, and what the user is told.

Pure functions over the execution records. The run that counts for a step is its last
accepted run (exit 0 and, for a function task, every check of the request passed); when
none was accepted, the best of the latest round (most checks passed). A final answer may
only state numbers that some run printed or that the request or plan already contain
(`nodes.grounding`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from nodes.common import tail
from nodes.result_sentence import plain_sentence, printed_result
from orquestra.language import Language

# How much of a run's output an answer quotes.
QUOTED_OUTPUT_CHARS = 1500

# A request that asks to have its result explained (English, Portuguese, Spanish).
_EXPLANATION = re.compile(
    r"\b(explain\w*|explanation|expliqu\w*|explica\w*|justif\w*|por que|por qué|why)\b",
    re.IGNORECASE,
)

TEXTS: dict[Language, dict[str, str]] = {
    "en": {
        "checked": "Here is the code; it passes {passed} of {total} checks from the request's "
        "examples.",
        "derived": "Here is the code; it passes {passed} of {total} test cases written from "
        "the specification (the request gave no example).",
        "written": "Here is the code.",
        "failed": "The code still failed after {attempts} attempts; this is the closest one.",
        "failed_checks": "It passes {passed} of {total} checks from the request's examples.",
        "result": "Result",
        "output": "Output of step {step}",
        "error": "Error",
        "code": "Code",
        "by_brain": "(written by the brain)",
        "disagree": "Another version of the code printed something else ({other}); the "
        "answer above is the larger model's.",
    },
    "pt": {
        "checked": "Aqui está o código; ele passa em {passed} de {total} verificações tiradas "
        "dos exemplos do pedido.",
        "derived": "Aqui está o código; ele passa em {passed} de {total} casos de teste "
        "escritos a partir da especificação (o pedido não trazia exemplos).",
        "written": "Aqui está o código.",
        "failed": "O código ainda falhou após {attempts} tentativas; esta é a mais próxima.",
        "failed_checks": "Passa em {passed} de {total} verificações dos exemplos do pedido.",
        "result": "Resultado",
        "output": "Saída do passo {step}",
        "error": "Erro",
        "code": "Código",
        "by_brain": "(escrito pelo cérebro)",
        "disagree": "Outra versão do código imprimiu outra coisa ({other}); a resposta acima "
        "é a do modelo maior.",
    },
    "es": {
        "checked": "Aquí está el código; pasa {passed} de {total} comprobaciones tomadas de "
        "los ejemplos.",
        "derived": "Aquí está el código; pasa {passed} de {total} casos de prueba escritos a "
        "partir de la especificación (la petición no traía ejemplos).",
        "written": "Aquí está el código.",
        "failed": "El código siguió fallando tras {attempts} intentos; este es el más cercano.",
        "failed_checks": "Pasa {passed} de {total} comprobaciones de los ejemplos.",
        "result": "Resultado",
        "output": "Salida del paso {step}",
        "error": "Error",
        "code": "Código",
        "by_brain": "(escrito por el cerebro)",
        "disagree": "Otra versión del código imprimió otra cosa ({other}); la respuesta de "
        "arriba es la del modelo mayor.",
    },
}


def _rank(run: Mapping[str, Any]) -> tuple[int, int, int]:
    checks = run.get("checks") or {}
    return (
        int(bool(run.get("accepted"))),
        int(checks.get("passed", 0)),
        int(run.get("exit_code") == 0 and not run.get("timed_out")),
    )


def chosen_runs(executions: Sequence[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """For each step, the run that counts: its last accepted run, else the best latest one."""
    chosen: dict[int, Mapping[str, Any]] = {}
    latest_round: dict[int, int] = {}
    for run in executions:
        step = int(run["step"])
        latest_round[step] = max(latest_round.get(step, 0), int(run.get("iteration", 0)))
    for run in executions:
        step = int(run["step"])
        if run.get("accepted"):
            chosen[step] = run
    for run in executions:
        step = int(run["step"])
        if step in chosen and chosen[step].get("accepted"):
            continue
        if int(run.get("iteration", 0)) != latest_round[step]:
            continue
        if step not in chosen or _rank(run) > _rank(chosen[step]):
            chosen[step] = run  # first best wins ties: earlier candidates were cheaper
    return dict(sorted(chosen.items()))


def verified(run: Mapping[str, Any]) -> bool:
    """A run whose result stands: every example of the request passed, or both models agree."""
    checks = run.get("checks") or {}
    examples = run.get("kind") == "function" and bool(checks.get("total"))
    return bool(run.get("accepted")) and (examples or run.get("confirms") is True)


def failed_steps(executions: Sequence[Mapping[str, Any]]) -> list[int]:
    """Steps of the latest round with no accepted run."""
    return [step for step, run in chosen_runs(executions).items() if not run.get("accepted")]


def unverified_steps(executions: Sequence[Mapping[str, Any]]) -> list[int]:
    """Function steps accepted with no check to pass (the request gave no usable example)."""
    return [
        step
        for step, run in chosen_runs(executions).items()
        if run.get("accepted")
        and run.get("kind") == "function"
        and not (run.get("checks") or {}).get("total")
    ]


def script_steps(executions: Sequence[Mapping[str, Any]]) -> list[int]:
    """Script steps the executor's code settled (accepted): the brain confirms them."""
    return [
        step
        for step, run in chosen_runs(executions).items()
        if run.get("accepted") and run.get("kind") == "script" and run.get("by") == "executor"
    ]


def last_run(executions: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The run that counts for the last step ({} when none ran)."""
    chosen = chosen_runs(executions)
    return chosen[max(chosen)] if chosen else {}


def solution_code(executions: Sequence[Mapping[str, Any]], step: int | None = None) -> str:
    """The code that counts for `step` (default: the last step), or '' when none ran."""
    chosen = chosen_runs(executions)
    if not chosen:
        return ""
    run = chosen[step] if step is not None and step in chosen else chosen[max(chosen)]
    return str(run.get("code", ""))


def code_answer(
    executions: Sequence[Mapping[str, Any]], language: Language, attempts: int, lead: str = ""
) -> str:
    """The code path's answer, in the request's language: the result first, then the code.

    `lead` (the brain's sentence, `nodes.result_sentence`) opens the answer for the last
    step; else a plain sentence does. The output is quoted only when the sentence does not
    already say all of it.
    """
    texts = TEXTS[language]
    chosen = chosen_runs(executions)
    parts: list[str] = []
    for step, run in chosen.items():
        checks = run.get("checks") or {}
        total = int(checks.get("total", 0))
        function = run.get("kind") == "function"
        # A function's run prints the checks' tally, which the sentence below says.
        output = "" if function else str(run.get("stdout") or "")
        said = ""
        if run.get("accepted"):
            said = (lead if step == max(chosen) else "") or plain_sentence(output, language)
            if said:
                parts.append(said)
            if total and function:
                said_checks = texts["derived" if run.get("derived_checks") else "checked"]
                parts.append(said_checks.format(passed=checks.get("passed", 0), total=total))
            elif not said and not output.strip():
                parts.append(texts["written"])
        else:
            tries = sum(1 for r in executions if int(r["step"]) == step)
            parts.append(texts["failed"].format(attempts=max(tries, attempts)))
            if total and function:
                parts.append(
                    texts["failed_checks"].format(passed=checks.get("passed", 0), total=total)
                )
        if output.strip() and not (said and printed_result(output)):
            title = texts["result"] if len(chosen) == 1 else texts["output"].format(step=step)
            quoted = tail(output.rstrip(), QUOTED_OUTPUT_CHARS)
            parts.append(f"{title}:\n```\n{quoted}\n```")
        if run.get("stderr") and not run.get("accepted"):
            parts.append(f"{texts['error']}:\n```\n{tail(str(run['stderr']))}\n```")
        by = f" {texts['by_brain']}" if run.get("by") == "brain" else ""
        parts.append(f"{texts['code']}{by}:\n```python\n{run.get('code', '')}\n```")
        if run.get("confirms") is False:
            other = " ".join(str(run.get("executor_stdout", "")).split())[:120]
            parts.append(texts["disagree"].format(other=other))
    return "\n\n".join(parts)


def asks_for_explanation(request: str) -> bool:
    """Whether the request asks why or how, not only for the result."""
    return _EXPLANATION.search(request) is not None


def quoted_outputs(executions: Sequence[Mapping[str, Any]], language: Language) -> str:
    """The outputs of the runs that count, quoted for the end of an answer."""
    chosen = chosen_runs(executions)
    texts = TEXTS[language]
    blocks = []
    for step, run in chosen.items():
        output = str(run.get("stdout") or "").strip()
        if not output or not run.get("accepted"):
            continue
        title = texts["result"] if len(chosen) == 1 else texts["output"].format(step=step)
        blocks.append(f"{title}:\n```\n{tail(output, QUOTED_OUTPUT_CHARS)}\n```")
    return "\n\n".join(blocks)


def quotes_outputs(answer: str, executions: Sequence[Mapping[str, Any]]) -> bool:
    """Whether `answer` already contains the last line of every counted run's output."""
    for run in chosen_runs(executions).values():
        output = str(run.get("stdout") or "").strip()
        if output and run.get("accepted") and output.splitlines()[-1].strip() not in answer:
            return False
    return True
