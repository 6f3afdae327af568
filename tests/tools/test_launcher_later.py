"""Cgroups kept for later are removed once, whatever the threads that retry them."""

from __future__ import annotations

import threading
from typing import Any, cast

from tools.cgroups import RunCgroup
from tools.launcher import launched


class SlowCgroup:
    """A cgroup whose removal takes a moment and counts its calls."""

    def __init__(self, empty: bool) -> None:
        self.empty = empty
        self.calls = 0

    def remove(self) -> bool:
        self.calls += 1
        threading.Event().wait(0.001)  # let the other threads interleave
        return self.empty


def test_retrying_from_many_threads_at_once_never_fails_and_keeps_the_busy_ones(
    monkeypatch: Any,
) -> None:
    kept: list[RunCgroup] = []
    monkeypatch.setattr(launched, "LATER", kept)
    emptied = [SlowCgroup(empty=True) for _ in range(20)]
    busy = SlowCgroup(empty=False)
    for cgroup in [*emptied, busy]:
        launched.remove_later(cast(RunCgroup, cgroup))
    errors: list[BaseException] = []

    def retry() -> None:
        try:
            launched.retry_removals()
        except BaseException as exc:  # the race this guards: "list.remove(x): x not in list"
            errors.append(exc)

    threads = [threading.Thread(target=retry) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert kept == [busy]
    assert all(cgroup.calls == 1 for cgroup in emptied)  # each removed once, not per thread
