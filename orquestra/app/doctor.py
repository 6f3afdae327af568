"""`orquestra doctor`: the founding design's troubleshooting section, made runnable.

Each check reports what it found and, when something is wrong, the fix.
"""

from __future__ import annotations

import asyncio
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from orquestra.backends.embedded import llama_available
from orquestra.backends.kv_files import DiskEntry, directory_refusal
from orquestra.backends.llama_router import ROUTER_HINT, LlamaRouter, find_model
from orquestra.backends.ollama import OllamaBackend, server_version
from orquestra.client.remote import fetch_status
from orquestra.client.trust import Trust
from orquestra.embedded import assets
from orquestra.errors import OrquestraError, SettingsError, UntrustedServerError
from orquestra.ledger import LEDGER_FILENAME, FootprintLedger
from orquestra.lineup import MODEL_VARIABLE, Lineup, Upstream, redact
from orquestra.policy.decision import GIB, Limits, fits_together, gib
from orquestra.runtime import choose_backend, select_backend
from orquestra.scheduler.sizing import footprint, read_budget
from orquestra.scheduler.status import ManagerStatus
from orquestra.settings import ROLES, Settings
from orquestra.vram import NvmlProbe
from tools.isolation import available_tiers

Status = Literal["ok", "warn", "fail"]
HTTP_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    status: Status
    detail: str
    fix: str = ""


async def _footprints(settings: Settings, backend: OllamaBackend) -> dict[str, int]:
    """Each role's footprint, read exactly as the manager reads it before a swap."""
    ledger = FootprintLedger(settings.cache_dir / LEDGER_FILENAME)
    lineup = Lineup.of(settings, Upstream.of(settings, backend.name))
    return {role: await footprint(backend, ledger, lineup.spec(role)) for role in ROLES}


async def _backend_check(settings: Settings) -> Check:
    """The backend `orquestra run` would use, chosen exactly as it chooses (with its errors)."""
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


def _scheduler_check(settings: Settings) -> Check:
    """Whether the processes on this GPU share one `orquestra serve` (blocking)."""
    if settings.in_process:
        return Check("scheduler", "ok", "in this process (ORQUESTRA_URL=none)")
    url = settings.scheduler_url
    try:
        status = fetch_status(Trust.of(url, settings), HTTP_TIMEOUT_S)
    except (UntrustedServerError, SettingsError) as exc:
        return Check("scheduler", "fail", str(exc), "see the message")
    except OrquestraError:
        if settings.orquestra_url.strip():
            return Check("scheduler", "fail", f"no answer at {url}", "start `orquestra serve`")
        if settings.autostart:
            return Check("scheduler", "ok", f"none at {url} yet; the first run starts it")
        return Check(
            "scheduler",
            "warn",
            f"none at {url}: each process decides for the GPU alone",
            "run `orquestra serve`, or set ORQUESTRA_AUTOSTART=true",
        )
    if "front" in status:
        nodes = status.get("nodes", [])
        down = [n["url"] for n in nodes if not n.get("up")]
        found = f"a front at {url}: {len(nodes) - len(down)} of {len(nodes)} nodes up"
        if down:
            return Check("scheduler", "warn", f"{found}; down: {', '.join(down)}", "start them")
        return Check("scheduler", "ok", found)
    scheduler = ManagerStatus.from_dict(status)
    found = (
        f"orquestra serve at {url} drives {scheduler.upstream.describe()}: "
        f"{len(scheduler.lineups)} lineup(s), {scheduler.swaps} swaps"
    )
    try:
        mine = Upstream.of(settings, choose_backend(settings))
    except OrquestraError:
        return Check("scheduler", "ok", found)  # the backend check says what is wrong
    if scheduler.upstream.same_as(mine):
        return Check("scheduler", "ok", found)
    if (scheduler.serve or {}).get("autostarted"):
        return Check(
            "scheduler",
            "warn",
            f"{found}; this process asks for {mine.describe()}",
            "nothing: the next run replaces it once it is idle",
        )
    return Check(
        "scheduler",
        "fail",
        f"{found}, started by hand; this process asks for {mine.describe()}",
        "stop it, or give this process its own (ORQUESTRA_SERVE_PORT, ORQUESTRA_URL)",
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


async def _llama_server_checks(settings: Settings) -> list[Check]:
    """The router's models for both roles, and whether it can keep the KV across swaps."""
    router = LlamaRouter(settings.llama_server_url)
    try:
        models = await asyncio.wait_for(router.models(), HTTP_TIMEOUT_S * 2)
    except (OrquestraError, TimeoutError) as exc:
        return [Check("llama-server", "fail", str(exc) or "no answer", f"start `{ROUTER_HINT}`")]
    finally:
        await router.aclose()
    url = redact(settings.llama_server_url)
    checks = [Check("llama-server", "ok", f"router at {url} serves {len(models)} model(s)")]
    lineup = Lineup.of(settings, Upstream.of(settings, "llama-server"))
    for role in ROLES:
        name = lineup.model(role)
        found = find_model(models, name)
        if found is None:
            listed = ", ".join(m.id for m in models) or "none"
            fix = f"set {MODEL_VARIABLE[role]} to one of them"
            checks.append(Check(f"{role} model", "fail", f"{name} not in {listed}", fix))
            continue
        checks.append(Check(f"{role} model", "ok", f"{found.id} ({found.status})"))
    slot_dirs = {m.slot_dir for m in models}
    if settings.kv_cache_gb <= 0:
        checks.append(Check("KV across swaps", "ok", "off (ORQUESTRA_KV_CACHE_GB=0)"))
    elif None in slot_dirs or not all(d is not None and d.is_dir() for d in slot_dirs):
        checks.append(
            Check(
                "KV across swaps",
                "warn",
                "the router saves no slots here: a swapped-back model evaluates its prompt again",
                "start the router with --slot-save-path DIR (a directory on this machine)",
            )
        )
    elif refused := _shared_slot_dirs(slot_dirs):
        checks.append(
            Check(
                "KV across swaps",
                "warn",
                f"not kept: {refused}",
                "`chmod 700` the directory if it is yours, or give the router a "
                "--slot-save-path of your own (`mkdir -m 700 DIR`)",
            )
        )
    else:
        where = ", ".join(sorted(str(d) for d in slot_dirs))
        checks.append(
            Check("KV across swaps", "ok", f"saved in {where}, up to {settings.kv_cache_gb} GiB")
        )
    return checks


def _shared_slot_dirs(slot_dirs: set[Path | None]) -> str:
    """Which slot directories others could plant KV files in, and why (empty: none)."""
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    if uid is None:
        return ""
    found = []
    for directory in sorted(d for d in slot_dirs if d is not None):
        refusal = directory_refusal(DiskEntry.of(directory.stat()), uid)
        if refusal:
            found.append(f"{directory}: {refusal}")
    return "; ".join(found)


async def run_checks(settings: Settings) -> list[Check]:
    """Every check, in the order a user would fix them."""
    checks: list[Check] = []
    version = await asyncio.to_thread(server_version, settings.ollama_base_url, HTTP_TIMEOUT_S)
    url = redact(settings.ollama_base_url)
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
    if settings.backend == "llama-server":
        checks.extend(await _llama_server_checks(settings))
    checks.append(await asyncio.to_thread(_scheduler_check, settings))

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
    else:
        checks.append(
            Check(
                "GPU (NVML)",
                "ok",
                f"{probe.name() or 'GPU'}: {gib(reading.total)} "
                f"GiB total, {gib(reading.free)} GiB free",
            )
        )
    budget = read_budget(settings, probe, warn=False).bytes

    if version is not None:
        backend = OllamaBackend(url)
        try:
            pulled = await asyncio.wait_for(backend.pulled(), HTTP_TIMEOUT_S * 2)
            missing = False
            lineup = Lineup.of(settings, Upstream.of(settings, "ollama"))
            for role in ROLES:
                model = lineup.model(role)
                if backend.canonical(model) in pulled:
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
                policy = settings.swap_policy
                limits = Limits(budget, policy, margin=int(settings.vram_margin_gb * GIB))
                fit = fits_together([sizes["brain"], sizes["executor"]], limits)
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
