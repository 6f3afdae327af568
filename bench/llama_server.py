"""Orquestra driving a real llama-server router, against the router's own LRU swapping.

The 30-task mix of `bench/swap_policies.py` (planning, code, hybrid with 1-5 code steps;
fixed seed), scaled to the embedded models on the CPU: each task is a conversation whose
brain turns share a long system prompt (about 600 tokens, the context a plan and its
reflection read) and whose executor turns share a shorter one; every reply is 8 tokens, so
the run measures swapping and prompt evaluation rather than generation. One real
router-mode `llama-server` over the two embedded GGUFs per policy (four slots per model,
as llama-server has by default, 4k context each):

- router LRU: `--models-max 1 --models-autoload`; requests name the model and the router
  loads it, evicting the other (what llama.cpp users run instead of llama-swap);
- Orquestra: `--models-max 2 --no-models-autoload`, the manager deciding every load under
  a one-model budget, with the KV of each model saved before its unload and restored after
  its load (ORQUESTRA_KV_CACHE_GB), and the same without the restore.

Both workloads: one task at a time, and a batch of 4 tasks at once. "swap s" is wall time
minus the servers' own compute time (their `timings`): the time spent swapping when one
request runs at a time; in the batch the four slots compute in parallel, so the summed
compute exceeds the wall time and the column is negative (read "loads" there). "resumed
prompt" is the prompt tokens evaluated by brain turns that resume a conversation after
its executor turns (the brain was swapped out meanwhile), against those turns' whole
prompts. Targets: Orquestra <= 0.8x the router's wall time on the batch and <= 1.0x one at
a time; tokens re-evaluated after a swap-back <= 0.2x without the restore.

    python bench/llama_server.py [--tasks 30] [--batch 4]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _common import table
from swap_simulation import BRAIN as SIM_BRAIN
from swap_simulation import workload

from orquestra.backends.llama_router import NO_KEEPALIVE
from orquestra.manager import ModelManager
from orquestra.runtime import build_model_manager
from orquestra.settings import Role
from tests import real_llama_server
from tests.real_llama_server import BRAIN, EXECUTOR, RealRouter

POLICIES = ("router LRU", "Orquestra", "Orquestra, no KV restore")
TARGETS = {"batch": 0.8, "one at a time": 1.0}
KV_TARGET = 0.2
BUDGET_GB = 2.5  # holds either model's process (2.1 and 0.8 GiB resident), not both
# Four slots per model (llama-server's default), each with a 4k context: the batch's four
# conversations each keep their own cached prefix.
SLOTS = 4
CHILD_ARGS = (
    "-c",
    str(4096 * SLOTS),
    "-np",
    str(SLOTS),
    "-n",
    "768",
    "--temp",
    "0.2",
    "--seed",
    "42",
)
REPLY_TOKENS = 8
BRAIN_CONTEXT = "\n".join(
    f"Rule {i}: a step that touches module {i} must log to channel {i * 7 % 31} "
    f"and finish within {i * 13 % 50 + 5} ms."
    for i in range(1, 23)
)
EXECUTOR_CONTEXT = "You write short Python functions. Reply with code only."


@dataclass
class Tally:
    """What one run measured."""

    compute_s: float = 0.0
    resumed_prompt: int = 0
    resumed_total: int = 0
    failed: int = 0
    loads: int = 0
    errors: list[str] = field(default_factory=list)


Messages = list[dict[str, str]]


class Caller:
    """Chat turns against one router, straight (router LRU) or under a manager's lease."""

    def __init__(self, url: str, manager: ModelManager | None, tally: Tally) -> None:
        self.url, self.manager, self.tally = url, manager, tally
        self.client = httpx.AsyncClient(base_url=url, timeout=600, limits=NO_KEEPALIVE)

    async def turn(self, role: Role, messages: Messages) -> tuple[int, int]:
        """One turn; (prompt tokens evaluated, prompt tokens in all)."""
        if self.manager is None:
            return await self._post(role, messages)
        async with self.manager.use(role):
            return await self._post(role, messages)

    async def _post(self, role: Role, messages: Messages) -> tuple[int, int]:
        model = BRAIN if role == "brain" else EXECUTOR
        body = {"model": model, "messages": messages, "max_tokens": REPLY_TOKENS}
        response = await self.client.post("/v1/chat/completions", json=body)
        if response.status_code != 200:
            self.tally.failed += 1
            self.tally.errors.append(response.text[:200])
            return 0, 0
        answer = response.json()
        timings = answer["timings"]
        self.tally.compute_s += (timings["prompt_ms"] + timings["predicted_ms"]) / 1000
        messages.append(answer["choices"][0]["message"])
        return int(timings["prompt_n"]), int(answer["usage"]["prompt_tokens"])


async def run_task(task: tuple[str, list[str]], index: int, caller: Caller) -> None:
    """One task: its brain and executor turns, each model continuing its own conversation."""
    kind, calls = task
    rules = f"Task {index} ({kind}). Follow these rules.\n{BRAIN_CONTEXT}"
    brain: Messages = [{"role": "system", "content": rules}]
    executor: Messages = [{"role": "system", "content": EXECUTOR_CONTEXT}]
    brain_before, executor_since = False, 0
    for step, model in enumerate(calls):
        if model == SIM_BRAIN:
            brain.append({"role": "user", "content": f"Step {step}: what next for task {index}?"})
            evaluated, total = await caller.turn("brain", brain)
            if brain_before and executor_since:  # the brain was swapped out meanwhile
                caller.tally.resumed_prompt += evaluated
                caller.tally.resumed_total += total
            brain_before, executor_since = True, 0
        else:
            executor.append({"role": "user", "content": f"Write step {step} of task {index}."})
            await caller.turn("executor", executor)
            executor_since += 1


# A child process announces each load it finishes in the router's log (`[port] ...`).
LOADED_LINE = re.compile(r"^\[\d+\] .*llama_server: model loaded", re.MULTILINE)


def loads_in(log: str) -> int:
    """How many models the router loaded (its log, not /models polling, which competes
    with the proxied requests for the router's HTTP threads)."""
    return len(LOADED_LINE.findall(log))


async def run_policy(policy: str, tasks: list[tuple[str, list[str]]], concurrency: int) -> Any:
    """Run every task under `policy`, `concurrency` at a time, on a router of its own."""
    router_lru = policy == "router LRU"
    router = RealRouter(
        models_max=1 if router_lru else 2, autoload=router_lru, child_args=CHILD_ARGS
    ).start()
    tally, gate = Tally(), asyncio.Semaphore(concurrency)
    with tempfile.TemporaryDirectory() as cache:
        manager = None
        if not router_lru:
            manager = build_model_manager(
                backend="llama-server",
                llama_server_url=router.url,
                brain_model=BRAIN,
                executor_model=EXECUTOR,
                vram_budget_gb=BUDGET_GB,
                home_role="none",
                kv_cache_gb=0 if "no KV" in policy else 4,
                cache_dir=Path(cache),
            )
        caller = Caller(router.url, manager, tally)

        async def one(i: int, task: tuple[str, list[str]]) -> None:
            async with gate:
                await run_task(task, i, caller)

        try:
            start = time.perf_counter()
            await asyncio.gather(*(one(i, t) for i, t in enumerate(tasks)))
            wall = time.perf_counter() - start
            tally.loads = loads_in(router.log())
        finally:
            await caller.client.aclose()
            if manager is not None:
                await manager.aclose()
            router.stop()
    return {"wall": wall, "swap_s": wall - tally.compute_s, "tally": tally}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--batch", type=int, default=4, help="tasks at a time in the batch")
    args = parser.parse_args()
    if not real_llama_server.available():
        raise SystemExit(f"No llama-server here: {real_llama_server.SKIP_REASON}")
    tasks = workload(args.tasks)
    mixes = {"one at a time": 1, "batch": args.batch}
    results = {
        (mix, policy): asyncio.run(run_policy(policy, tasks, concurrency))
        for mix, concurrency in mixes.items()
        for policy in POLICIES
    }
    rows = []
    for (mix, policy), r in results.items():
        t: Tally = r["tally"]
        ratio = r["wall"] / results[(mix, "router LRU")]["wall"]
        verdict = ""
        if policy == "Orquestra":
            verdict = f"{'ok' if ratio <= TARGETS[mix] else 'MISS'} (<= {TARGETS[mix]})"
        workload_name = mix if mix == "one at a time" else f"batch of {args.batch}"
        rows.append([
            workload_name, policy, f"{r['wall']:.1f}", t.loads, f"{r['swap_s']:.1f}",
            f"{t.resumed_prompt} / {t.resumed_total}", t.failed, f"{ratio:.2f}", verdict,
        ])  # fmt: skip
    kinds = {k: sum(1 for kind, _ in tasks if kind == k) for k in ("planning", "code", "hybrid")}
    print(f"{len(tasks)} tasks ({kinds}); real llama-server router, embedded models, CPU\n")
    headers = [
        "workload", "policy", "wall s", "loads", "swap s", "resumed prompt tokens",
        "failed", "wall / router", "target",
    ]  # fmt: skip
    print(table(headers, rows))
    for mix in mixes:
        kept = results[(mix, "Orquestra")]["tally"].resumed_prompt
        cold = results[(mix, "Orquestra, no KV restore")]["tally"].resumed_prompt
        ratio = kept / cold if cold else float("nan")
        verdict = "ok" if ratio <= KV_TARGET else "MISS"
        print(
            f"\n{mix}: prompt tokens re-evaluated after a swap-back, with / without the KV "
            f"restore: {kept} / {cold} = {ratio:.2f} ({verdict}, target <= {KV_TARGET})"
        )


if __name__ == "__main__":
    main()
