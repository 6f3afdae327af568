"""The answer to a workspace job, in the request's language (pure).

It says first what happened (fixed, refactored, or nothing passed), then the tests before
(the failing ones named) and after, then the change as a unified diff and whether it was
written to the user's files. The tests' own words (pytest's ids, a rejection's reason) are
quoted as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nodes.workspace_job import WorkspaceJob
from orquestra.language import Language
from tools.project_tests import TestReport

TEXTS: dict[Language, dict[str, str]] = {
    "en": {
        "fix": "Fixed: the project's tests pass with this change.",
        "refactor": "Done: the refactoring is in place and the project's tests still pass.",
        "before": "Before: {passed} passed, {failed} failed{failing}.",
        "after": "After: {passed} passed of {total}.",
        "applied": "Applied to your files:",
        "refused": "Not applied: {why}\n\nThe change:",
        "unchanged": "Your files are unchanged; the change, to apply with `orquestra run "
        "--apply` (or `git apply`):",
        "none": "No change passed the project's tests ({tried}). Nothing was written to your "
        "files.",
        "tried": "{n} attempt(s)",
        "last": "Why the last attempt was rejected:",
    },
    "pt": {
        "fix": "Corrigido: os testes do projeto passam com esta mudança.",
        "refactor": "Feito: a refatoração está no lugar e os testes do projeto continuam passando.",
        "before": "Antes: {passed} passando, {failed} falhando{failing}.",
        "after": "Depois: {passed} de {total} passando.",
        "applied": "Aplicado aos seus arquivos:",
        "refused": "Não aplicado: {why}\n\nA mudança:",
        "unchanged": "Seus arquivos não foram alterados; a mudança, para aplicar com "
        "`orquestra run --apply` (ou `git apply`):",
        "none": "Nenhuma mudança passou nos testes do projeto ({tried}). Nada foi escrito nos "
        "seus arquivos.",
        "tried": "{n} tentativa(s)",
        "last": "Por que a última tentativa foi recusada:",
    },
    "es": {
        "fix": "Corregido: las pruebas del proyecto pasan con este cambio.",
        "refactor": "Hecho: la refactorización está en su sitio y las pruebas del proyecto "
        "siguen pasando.",
        "before": "Antes: {passed} pasan, {failed} fallan{failing}.",
        "after": "Después: {passed} de {total} pasan.",
        "applied": "Aplicado a tus archivos:",
        "refused": "No aplicado: {why}\n\nEl cambio:",
        "unchanged": "Tus archivos no han cambiado; el cambio, para aplicar con `orquestra "
        "run --apply` (o `git apply`):",
        "none": "Ningún cambio pasó las pruebas del proyecto ({tried}). No se escribió nada en "
        "tus archivos.",
        "tried": "{n} intento(s)",
        "last": "Por qué se rechazó el último intento:",
    },
}


def workspace_answer(
    job: WorkspaceJob,
    before: TestReport,
    runs: Sequence[Mapping[str, Any]],
    diff: str,
    applied: str | None,
    refused: str,
    language: Language,
) -> str:
    """What the user reads: the outcome, the tests before and after, the change."""
    texts = TEXTS[language]
    failing = f" ({', '.join(sorted(before.failed))})" if before.failed else ""
    before_line = texts["before"].format(
        passed=len(before.passed), failed=len(before.failed), failing=failing
    )
    last = runs[-1] if runs else None
    if not diff or last is None:
        outcome = texts["none"].format(tried=texts["tried"].format(n=len(runs)))
        why = str(last.get("feedback", "")) if last else ""
        quoted = f"\n\n{texts['last']}\n\n```text\n{why}\n```" if why else ""
        return f"{outcome}\n\n{before_line}{quoted}"
    after_line = texts["after"].format(passed=last["checks_passed"], total=last["checks_total"])
    if applied is not None:
        where, shown = texts["applied"], applied
    elif refused:
        where, shown = texts["refused"].format(why=refused), diff
    else:
        where, shown = texts["unchanged"], diff
    return f"{texts[job.kind]}\n\n{before_line} {after_line}\n\n{where}\n\n```diff\n{shown}\n```"
