"""`orquestra doctor`: the founding design's troubleshooting section, made runnable.

Each check reports what it found and, when something is wrong, the fix.
"""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass
from typing import Literal

import httpx

from orquestra.backends.embedded import llama_available
from orquestra.backends.ollama import OllamaBackend, canonical_name
from orquestra.decision import GIB, gib
from orquestra.embedded import assets
from orquestra.errors import OrquestraError
from orquestra.footprint import estimate_footprint
from orquestra.ledger import LEDGER_FILENAME, FootprintLedger
from orquestra.settings import ROLES, Settings
from orquestra.vram import NvmlProbe

Status = Literal["ok", "warn", "fail"]
HTTP_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    status: Status
    detail: str
    fix: str = ""


async def _ollama_version(settings: Settings) -> str | None:
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
            response = await client.get(f"{settings.ollama_base_url}/api/version")
            response.raise_for_status()
            return str(response.json().get("version", "unknown"))
    except (httpx.HTTPError, ValueError):
        return None


async def _footprints(settings: Settings, backend: OllamaBackend) -> dict[str, int]:
    ledger = FootprintLedger(settings.cache_dir / LEDGER_FILENAME)
    await ledger.aload()
    sizes: dict[str, int] = {}
    for role in ROLES:
        model, options = canonical_name(settings.model_for(role)), settings.options_for(role)
        known = ledger.get(model, options)
        if known is not None:
            sizes[role] = known.size
            continue
        facts = await backend.facts(settings.model_for(role))
        sizes[role] = estimate_footprint(facts.weights_bytes, facts.model_info, options["num_ctx"])
    return sizes


async def _backend_check(settings: Settings) -> Check:
    """The backend `orquestra run` would use, chosen exactly as it chooses (with its errors)."""
    from orquestra.runtime import select_backend  # runtime builds on everything here

    try:
        backend, chosen = await asyncio.to_thread(select_backend, settings)
    except OrquestraError as exc:
        return Check("backend", "fail", str(exc), "orquestra run would stop with this error")
    await backend.aclose()
    return Check(
        "backend",
        "ok",
        f"{backend.name} (ORQUESTRA_BACKEND={settings.backend}): brain {chosen.brain_model}, "
        f"executor {chosen.executor_model}",
    )


def _embedded_check(settings: Settings) -> Check:
    if not llama_available():
        return Check(
            "embedded",
            "warn",
            "llama-cpp-python is not installed",
            f"for the CPU fallback, run: {assets.INSTALL_HINT}",
        )
    names = ", ".join(assets.EMBEDDED_MODELS)
    if assets.ready(settings.cache_dir):
        return Check("embedded", "ok", f"llama-cpp-python and {names}")
    size = sum(m.size for m in assets.EMBEDDED_MODELS.values()) / 2**30
    return Check(
        "embedded",
        "warn",
        f"llama-cpp-python present; {names} not fetched yet ({size:.1f} GiB, once)",
        f"{assets.FETCH_HINT} (or let the first run fetch them)",
    )


async def run_checks(settings: Settings) -> list[Check]:
    """Every check, in the order a user would fix them."""
    checks: list[Check] = []
    url = settings.ollama_base_url
    version = await _ollama_version(settings)
    embedded_ready = llama_available()
    if version is None:
        fix = "start it with `ollama serve` (or the Ollama app), or set OLLAMA_BASE_URL"
        if embedded_ready:
            fix += "; meanwhile the embedded models run on the CPU"
        checks.append(
            Check("Ollama", "warn" if embedded_ready else "fail", f"no answer at {url}", fix)
        )
    else:
        checks.append(Check("Ollama", "ok", f"version {version} at {url}"))

    checks.append(await _backend_check(settings))

    probe = NvmlProbe(settings.gpu_index)
    reading = probe.read()
    if reading is None:
        checks.append(
            Check(
                "GPU (NVML)",
                "warn",
                probe.reason or "no NVIDIA driver",
                "install the NVIDIA driver, or set ORQUESTRA_VRAM_BUDGET_GB",
            )
        )
        total = int((settings.vram_budget_gb or 16.0) * GIB)
    else:
        checks.append(
            Check(
                "GPU (NVML)",
                "ok",
                f"{probe.name() or 'GPU'}: {gib(reading.total)} "
                f"GiB total, {gib(reading.free)} GiB free",
            )
        )
        total = reading.total
    budget = int(settings.vram_budget_gb * GIB) if settings.vram_budget_gb else total

    if version is not None:
        backend = OllamaBackend(url)
        try:
            pulled = await asyncio.wait_for(backend.pulled(), HTTP_TIMEOUT_S * 2)
            missing = False
            for role in ROLES:
                model = settings.model_for(role)
                if canonical_name(model) in pulled:
                    checks.append(Check(f"{role} model", "ok", f"{model} is pulled"))
                else:
                    missing = True
                    fix = (
                        "orquestra models setup"
                        if role == "brain"
                        else f"ollama pull {shlex.quote(model)}"
                    )
                    checks.append(Check(f"{role} model", "fail", f"{model} is not pulled", fix))
            if not missing:
                sizes = await _footprints(settings, backend)
                both = sizes["brain"] + sizes["executor"] + int(settings.vram_margin_gb * GIB)
                fit = both <= budget
                policy = settings.swap_policy
                effect = (
                    "both stay resident"
                    if fit and policy != "alternate"
                    else "they alternate (one swap each time the graph crosses models)"
                )
                status: Status = "fail" if (policy == "coresident" and not fit) else "ok"
                checks.append(
                    Check(
                        "fit",
                        status,
                        f"brain {gib(sizes['brain'])} + executor {gib(sizes['executor'])} GiB "
                        f"(+{settings.vram_margin_gb} margin) vs budget {gib(budget)} GiB: "
                        f"policy {policy}, {effect}",
                        "use ORQUESTRA_SWAP_POLICY=auto" if status == "fail" else "",
                    )
                )
        except (OrquestraError, TimeoutError) as exc:
            checks.append(Check("models", "fail", str(exc)))
        finally:
            await backend.aclose()

    checks.append(_embedded_check(settings))

    from tools.isolation import available_tiers  # the sandbox sits above the runtime

    tiers = await asyncio.to_thread(available_tiers)
    if tiers[0] == "bwrap":
        checks.append(Check("sandbox", "ok", f"isolation tiers: {', '.join(tiers)}"))
    else:
        checks.append(
            Check(
                "sandbox",
                "warn",
                f"isolation tiers: {', '.join(tiers)}",
                "apt-get install bubblewrap (no network, read-only host)",
            )
        )
    return checks
