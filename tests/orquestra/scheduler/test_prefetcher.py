"""Prefetch: the next model's weights read into the page cache while the graph works."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from graph import Context, build_graph
from orquestra import prefetch
from orquestra.backends.ollama import OllamaBackend
from tests.conftest import BRAIN, EXECUTOR, ManagerFactory
from tests.fakes.ollama import FakeOllamaState
from tests.graph_support import code_reply, plan_reply, reflection, user

MIB = 1024 * 1024


def weights_file(path: Path, size: int = 16 * MIB) -> Path:
    with path.open("wb") as fh:
        fh.write(os.urandom(size))
        fh.flush()
        os.fsync(fh.fileno())
    return path


@pytest.fixture
def blobs(state: FakeOllamaState, tmp_path: Path) -> dict[str, Path]:
    files = {
        name: weights_file(tmp_path / f"{name.replace(':', '_')}.gguf")
        for name in (BRAIN, EXECUTOR)
    }
    for name, path in files.items():
        state.models[name].blob = str(path)
    return files


def test_warm_reads_the_file_into_the_page_cache(tmp_path: Path) -> None:
    path = weights_file(tmp_path / "model.gguf")
    prefetch.evict(path)
    before = prefetch.cached_fraction(path)
    result = prefetch.warm(path, reserve_bytes=0)
    assert result.bytes_read == 16 * MIB and not result.limited
    after = prefetch.cached_fraction(path)
    if after is None:
        pytest.skip("mincore is not available here")
    assert after == 1.0 and before is not None and before < prefetch.ALREADY_CACHED_FRACTION
    again = prefetch.warm(path, reserve_bytes=0)  # cached now: nothing is read twice
    assert again.already_cached and again.bytes_read == 0


def test_warm_is_bounded_by_available_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = weights_file(tmp_path / "model.gguf")
    prefetch.evict(path)
    monkeypatch.setattr(prefetch, "available_memory", lambda: 512 * MIB + 3 * MIB)
    result = prefetch.warm(path, reserve_bytes=512 * MIB)
    assert result.bytes_read == 3 * MIB and result.limited


async def test_ollama_blob_path_comes_from_the_modelfile_when_local(
    server,
    blobs: dict[str, Path],  # type: ignore[no-untyped-def]
) -> None:
    backend = OllamaBackend(server.url)
    assert await backend.weights_path(EXECUTOR) == blobs[EXECUTOR]
    await backend.aclose()
    remote = OllamaBackend("http://gpu-box.example:11434")
    assert not remote.is_local() and await remote.weights_path(EXECUTOR) is None


async def test_a_swap_records_whether_its_weights_were_prefetched(
    make_manager: ManagerFactory, blobs: dict[str, Path]
) -> None:
    manager = make_manager()
    for path in blobs.values():
        prefetch.evict(path)
    await manager.ensure("brain")
    assert manager.events[-1].prefetched is False  # nothing knew it was coming
    await manager.prefetch("executor")
    await manager.ensure("executor")
    swap = manager.events[-1]
    assert swap.to_role == "executor" and swap.prefetched and swap.page_cache == 1.0


async def test_after_each_swap_the_model_that_went_out_is_read_back_in(
    make_manager: ManagerFactory, blobs: dict[str, Path]
) -> None:
    manager = make_manager()
    for path in blobs.values():
        prefetch.evict(path)
    await manager.ensure("executor")  # the brain is read while the executor is in...
    await manager.ensure("brain")  # ...so this swap loads it from RAM, and so on
    await manager.ensure("executor")
    assert [(e.to_role, e.prefetched, e.page_cache) for e in manager.events] == [
        ("executor", False, 0.0),
        ("brain", True, 1.0),
        ("executor", True, 1.0),
    ]


async def test_prefetch_can_be_turned_off(
    make_manager: ManagerFactory, blobs: dict[str, Path]
) -> None:
    manager = make_manager(prefetch=False)
    await manager.prefetch("executor")
    await manager.ensure("executor")
    assert manager.events[-1].prefetched is False and manager.prefetched == {}


async def test_hybrid_runs_prefetch_the_next_model_on_both_crossings(
    wired,
    state: FakeOllamaState,
    blobs: dict[str, Path],  # type: ignore[no-untyped-def]
) -> None:
    await wired.ensure("brain")
    state.script(BRAIN, plan_reply(("sum", True)), reflection(answer="55"))
    state.script(EXECUTOR, code_reply("print(sum(range(1, 11)))"))
    final = await build_graph().ainvoke(
        user("Planeje e execute a soma de 1 a 10"), context=Context()
    )
    assert [(s["to_role"], s["prefetched"]) for s in final["swaps"]] == [
        ("executor", True),
        ("brain", True),
    ]
    assert all(s["page_cache"] == 1.0 for s in final["swaps"])
