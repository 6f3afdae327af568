"""Naming and bounding the saved KV caches (pure)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orquestra.backends.kv_files import (
    KV_PREFIX,
    NOT_SAVED_HERE,
    DiskEntry,
    KvFile,
    Seal,
    content_refusal,
    directory_refusal,
    files_to_drop,
    kv_stem,
    restore_refusal,
    seal_refusal,
    slot_filename,
    slot_of,
)

ME, OTHER = 1000, 65534
SEAL = Seal(size=4096, digest="ab" * 32)
SAVED = DiskEntry("file", ME, 0o600, 4096)


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


def test_only_the_file_orquestra_sealed_passes_the_metadata_check() -> None:
    assert restore_refusal(SAVED, SEAL, ME) is None
    assert restore_refusal(SAVED, None, ME) == NOT_SAVED_HERE


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        (DiskEntry("link", ME, 0o777, 40), "symbolic link"),
        (DiskEntry("other", ME, 0o600, 0), "not a regular file"),
        (DiskEntry("directory", ME, 0o700, 4096), "not a regular file"),
        (DiskEntry("file", OTHER, 0o600, 4096), "uid 65534"),
        (DiskEntry("file", ME, 0o640, 4096), "mode 640"),
        (DiskEntry("file", ME, 0o604, 4096), "mode 604"),
        (DiskEntry("file", ME, 0o620, 4096), "mode 620"),
        (DiskEntry("file", ME, 0o600, 4097), "size changed"),
    ],
)
def test_a_file_that_is_not_as_it_was_sealed_is_refused(entry: DiskEntry, why: str) -> None:
    refusal = restore_refusal(entry, SEAL, ME)
    assert refusal is not None and why in refusal


def test_only_the_sealed_content_is_restored() -> None:
    assert content_refusal(SEAL.digest, SEAL) is None
    assert content_refusal("cd" * 32, SEAL) == "its content changed since it was saved"
    assert content_refusal(SEAL.digest, None) == NOT_SAVED_HERE


@given(
    kind=st.sampled_from(["file", "directory", "link", "other"]),
    owner=st.sampled_from([ME, OTHER, 0]),
    mode=st.integers(0, 0o7777),
    size=st.sampled_from([0, 4095, 4096, 4097]),
)
def test_a_file_passes_only_when_it_is_this_users_private_regular_file_of_the_sealed_size(
    kind: str, owner: int, mode: int, size: int
) -> None:
    entry = DiskEntry(kind, owner, mode, size)  # type: ignore[arg-type]
    acceptable = kind == "file" and owner == ME and not mode & 0o077 and size == SEAL.size
    assert (restore_refusal(entry, SEAL, ME) is None) == acceptable
    assert restore_refusal(entry, None, ME) is not None


def test_a_just_saved_file_is_sealed_whatever_its_mode_when_it_is_this_users() -> None:
    assert seal_refusal(DiskEntry("file", ME, 0o644, 10), ME) is None
    assert seal_refusal(DiskEntry("file", OTHER, 0o600, 10), ME) is not None
    assert seal_refusal(DiskEntry("link", ME, 0o777, 10), ME) is not None


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        (DiskEntry("directory", ME, 0o700, 0), None),
        (DiskEntry("directory", ME, 0o755, 0), None),  # usable once made private
        (DiskEntry("directory", ME, 0o777, 0), "other users can write to it (mode 777)"),
        (DiskEntry("directory", ME, 0o1777, 0), "other users can write to it (mode 1777)"),
        (DiskEntry("directory", ME, 0o720, 0), "other users can write to it (mode 720)"),
        (DiskEntry("directory", OTHER, 0o700, 0), "it belongs to uid 65534"),
        (DiskEntry("file", ME, 0o700, 0), "it is not a directory"),
    ],
)
def test_a_slot_directory_others_can_write_to_or_own_is_refused(
    entry: DiskEntry, why: str | None
) -> None:
    refusal = directory_refusal(entry, ME)
    if why is None:
        assert refusal is None
    else:
        assert refusal is not None and why in refusal
    assert entry.private == (entry.mode & 0o077 == 0)


def test_disk_entries_tell_links_files_and_directories_apart(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_bytes(b"x" * 10)
    target.chmod(0o640)
    (tmp_path / "link").symlink_to(target)
    file = DiskEntry.of(target.lstat())
    assert file == DiskEntry("file", os.geteuid(), 0o640, 10) and not file.private
    assert DiskEntry.of((tmp_path / "link").lstat()).kind == "link"
    assert DiskEntry.of(tmp_path.lstat()).kind == "directory"
