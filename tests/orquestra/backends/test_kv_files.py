"""Naming and bounding the saved KV caches (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orquestra.backends.kv_files import (
    KV_PREFIX,
    KvFile,
    files_to_drop,
    kv_stem,
    slot_filename,
    slot_of,
)


def test_a_stem_changes_with_the_model_and_its_settings() -> None:
    base = kv_stem("qwen2.5-coder-1.5b-instruct", ("-c", "4096"))
    assert base.startswith(KV_PREFIX + "qwen2.5-coder-1.5b-instruct-")
    assert kv_stem("qwen2.5-coder-1.5b-instruct", ("-c", "4096")) == base
    assert kv_stem("qwen2.5-coder-1.5b-instruct", ("-c", "8192")) != base
    assert kv_stem("qwen2.5-coder-0.5b-instruct", ("-c", "4096")) != base


def test_unsafe_model_names_make_plain_file_names() -> None:
    stem = kv_stem("hf.co/Org/Model:Q4_K_M", ())
    assert "/" not in stem and ":" not in stem and stem == stem.lower()


def test_slot_files_round_trip_and_ignore_other_stems() -> None:
    stem = kv_stem("m", ())
    assert slot_of(slot_filename(stem, 3), stem) == 3
    assert slot_of(slot_filename(kv_stem("other", ()), 3), stem) is None
    assert slot_of(f"{stem}-slotx.bin", stem) is None


def test_the_oldest_saves_are_dropped_until_the_rest_fit() -> None:
    files = [KvFile("a", 100, 1.0), KvFile("b", 100, 2.0), KvFile("c", 100, 3.0)]
    assert files_to_drop(files, 300) == []
    assert files_to_drop(files, 250) == ["a"]
    assert files_to_drop(files, 100) == ["a", "b"]
    assert files_to_drop(files, 0) == ["a", "b", "c"]


@given(
    st.lists(st.tuples(st.integers(0, 10**6), st.floats(0, 1e6)), max_size=20),
    st.integers(0, 5 * 10**6),
)
def test_what_is_kept_fits_and_is_newer_than_what_is_dropped(
    raw: list[tuple[int, float]], budget: int
) -> None:
    files = [KvFile(f"f{i}", size, at) for i, (size, at) in enumerate(raw)]
    dropped = set(files_to_drop(files, budget))
    kept = [f for f in files if f.name not in dropped]
    assert sum(f.size for f in kept) <= budget
    if kept and dropped:
        newest_dropped = max((f.saved_at, f.name) for f in files if f.name in dropped)
        assert newest_dropped <= min((f.saved_at, f.name) for f in kept)
