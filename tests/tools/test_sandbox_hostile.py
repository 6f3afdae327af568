"""Hostile code against the sandbox, in every tier, as root and as an unprivileged user.

Each (identity, tier) pair gets a fresh application process (`tests/tools/sandbox_app.py`)
holding canaries: an API key in its environment, a secret in its memory, an open file
with a secret, a `.env` beside it, a file in the user's cache, a pseudo-terminal as its
controlling terminal; a stand-in Ollama listens on loopback (TCP and UDP) and logs every
request; an unrelated process of the same user sleeps nearby. The application runs a
batch of attacks, one sandbox run each, and the tests below check the evidence: the
request log, the terminal's input queue, the canary in memory, file contents, the host's
mount table and kernel settings, the process list. "user" is `nobody` through setpriv
when the tests run as root, else the user running them.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from tests.tools.hostile_suite import Batch, result
from tests.tools.hostile_world import ROOT, World
from tools.identity import RUN_ID_BASE, RUN_ID_SPAN

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the hostile suite needs Linux"
)


def test_the_stand_in_ollama_hears_nothing(batch: Batch) -> None:
    run = result(batch, "network")
    assert batch.server_log == []
    assert "DELIVERED" not in run["stdout"], run["stdout"]


def test_the_applications_environment_stays_secret(batch: Batch, world: World) -> None:
    run = result(batch, "environ")
    assert world.secret not in run["stdout"] + run["stderr"]


def test_the_applications_memory_can_be_neither_read_nor_written(
    batch: Batch, world: World
) -> None:
    run = result(batch, "app_memory")
    assert run["canary_intact"]
    assert all(r["canary_intact"] for r in batch.results.values())
    assert world.secret not in run["stdout"] and "WROTE" not in run["stdout"]


def test_the_applications_open_files_stay_closed(batch: Batch, world: World) -> None:
    run = result(batch, "app_fds")
    assert world.secret not in run["stdout"] + run["stderr"]


def test_no_keystroke_reaches_the_users_terminal(batch: Batch) -> None:
    run = result(batch, "tiocsti")
    assert batch.tty_input == b""
    assert "INJECTED" not in run["stdout"], run["stdout"]


def test_no_host_file_is_written(batch: Batch, world: World) -> None:
    result(batch, "host_writes")
    assert batch.pth_files == []
    assert batch.env_text == world.env_text


def test_links_do_not_reach_the_env_file_or_the_cache(batch: Batch, world: World) -> None:
    run = result(batch, "links")
    assert world.secret not in run["stdout"] + run["stderr"]
    assert "TAMPERED" not in run["stdout"] and batch.env_text == world.env_text


def test_shadow_home_and_the_application_directory_stay_hidden(batch: Batch, world: World) -> None:
    run = result(batch, "secrets_on_disk")
    if ROOT:  # the first entry's name and password field
        assert ":".join(Path("/etc/shadow").read_text().split(":")[:2]) not in run["stdout"]
    listed = [line for line in run["stdout"].splitlines() if line.startswith("LISTED")]
    assert not [line for line in listed if ".env" in line or world.cache_file.name in line]


def test_kernel_settings_and_the_host_mount_table_are_untouched(batch: Batch) -> None:
    run = result(batch, "kernel_and_mounts")
    assert "CORE_PATTERN WRITTEN" not in run["stdout"]
    assert "chattr 0" not in run["stdout"]  # no immutable file: cleanup cannot be defeated
    assert batch.mounts_after == batch.mounts_before


def test_the_code_holds_no_privilege(batch: Batch, world: World) -> None:
    run = result(batch, "privileges")
    fields = dict(line.split(" ", 1) for line in run["stdout"].splitlines())
    uid = int(fields["uid"].split()[0])
    if world.who == "root":
        assert RUN_ID_BASE <= uid < RUN_ID_BASE + RUN_ID_SPAN and "per-run-uid" in run["isolation"]
        assert "memory-cgroup" in run["isolation"]
    else:
        assert "same-uid-as-app" in run["isolation"]
    assert fields["CapEff"] == fields["CapPrm"] == fields["CapAmb"] == "0000000000000000"
    assert fields["NoNewPrivs"] == "1" and fields["Seccomp"] == "2"
    assert "no ctty" in run["stdout"]


def test_the_kernel_keyring_is_out_of_reach(batch: Batch, world: World) -> None:
    run = result(batch, "keyring")
    if "PLANTED 0" in run["stdout"]:
        pytest.skip("this kernel has no keyring to plant a key in")
    assert world.secret not in run["stdout"] + run["stderr"]
    calls = [line.split() for line in run["stdout"].splitlines() if " -> " in line]
    assert calls and all(int(call[call.index("->") + 1]) < 0 for call in calls), run["stdout"]
    assert "DESCRIBED" not in run["stdout"] and "READ" not in run["stdout"]
    # The process tier has no mount namespace to mask /proc/keys in: there the names (never
    # the contents) of the user's own keys stay listed, as for any process of the user.
    if not (world.who == "user" and run["isolation"][0] == "process"):
        assert "LISTED" not in run["stdout"], run["stdout"]


def test_the_checks_verdict_comes_from_the_checks_alone(batch: Batch) -> None:
    assert result(batch, "checks_honest")["accepted"]
    for name in ("checks_forged_tally", "checks_memory"):
        run = result(batch, name)
        assert run["accepted"] is False and run["exit_code"] != 0, run


def test_a_segfault_is_the_negative_signal(batch: Batch) -> None:
    run = result(batch, "segfault")
    assert run["exit_code"] == -signal.SIGSEGV and run["stdout"] == "before\n"


def test_nothing_is_left_in_shared_temporary_directories(batch: Batch) -> None:
    result(batch, "residue")
    assert batch.residue == []


def test_a_run_cannot_write_into_the_next_runs_spare(batch: Batch) -> None:
    result(batch, "spare_injection")
    victim = result(batch, "victim")
    assert victim["stdout"] == "benign output\n" and victim["exit_code"] == 0


def test_deep_and_locked_trees_are_cleaned_up_in_time(batch: Batch) -> None:
    run = result(batch, "deep_and_locked")
    assert run["exit_code"] == 0 and "built" in run["stdout"]
    workdir = run["stdout"].split()[1]
    if "host-workdir" in run["isolation"]:
        assert not Path(workdir).exists()
    assert batch.host_workdirs == []


def test_a_hard_link_flood_ends_within_the_timeout_and_cleanup_bound(batch: Batch) -> None:
    run = result(batch, "hard_link_flood")
    assert run["timed_out"]
    workdir = run["stdout"].split()[1]
    if "host-workdir" in run["isolation"]:
        assert not Path(workdir).exists()


def test_memory_is_capped_for_all_processes_together(batch: Batch) -> None:
    run = result(batch, "memory_total")
    assert "ALL HELD" not in run["stdout"]
    assert run["limit_exceeded"] == "memory" and not run["timed_out"]


def test_what_the_code_keeps_in_tmpfs_counts_as_its_memory(batch: Batch) -> None:
    run = result(batch, "tmpfs_memory")
    assert "WROTE" not in run["stdout"]
    # Killed for memory, or (an ordinary user's process tier) kept out of /dev/shm.
    assert run["limit_exceeded"] == "memory" or run["stdout"].startswith("blocked")
    assert not run["timed_out"]


def test_a_fork_bomb_kills_nothing_outside_the_run(batch: Batch) -> None:
    run = result(batch, "fork_bomb")
    assert run["timed_out"] and run["exit_code"] != 0
    assert batch.sleeper_alive


def test_the_code_cannot_kill_the_application_or_its_neighbours(batch: Batch) -> None:
    run = result(batch, "kill_others")
    assert "KILLED" not in run["stdout"]
    assert result(batch, "still_standing")["stdout"] == "still here\n"
    assert batch.sleeper_alive


def test_no_process_of_any_run_outlives_the_application(batch: Batch) -> None:
    assert batch.leftovers == []
