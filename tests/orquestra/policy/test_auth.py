"""Who may use `orquestra serve`, how it proves itself, and how many leases it grants."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from orquestra.credentials import (
    api_proof,
    bearer_matches,
    load_user_key,
    new_nonce,
    proven,
    user_proof,
)
from orquestra.errors import SettingsError
from orquestra.policy.auth import FORBIDDEN, UNAUTHORIZED, AuthRules, Peer, admit, bind_refusal
from orquestra.policy.lease_bounds import (
    SERVER_FULL,
    TOO_MANY,
    LeaseLimits,
    idle_too_long,
    lease_refusal,
)

LINUX = AuthRules(own_uid=1000, tells_peers=True, api_key_set=False)
WINDOWS = AuthRules(own_uid=None, tells_peers=False, api_key_set=False)
KEYED = AuthRules(own_uid=1000, tells_peers=True, api_key_set=True)


def test_the_owner_on_this_machine_is_served_and_counted_as_its_user() -> None:
    decision = admit(Peer("127.0.0.1", loopback=True, uid=1000), has_api_key=False, rules=LINUX)
    assert decision.allowed and decision.client == "uid 1000"


def test_another_local_user_is_refused_with_the_fix() -> None:
    decision = admit(Peer("127.0.0.1", loopback=True, uid=1001), has_api_key=False, rules=LINUX)
    assert not decision.allowed and decision.status == FORBIDDEN
    assert "another user" in decision.message and "ORQUESTRA_SERVE_PORT" in decision.message


def test_another_local_user_with_the_api_key_is_served() -> None:
    peer = Peer("127.0.0.1", loopback=True, uid=1001)
    assert admit(peer, has_api_key=True, rules=KEYED).allowed


def test_a_local_connection_nobody_can_vouch_for_is_refused_where_the_system_could_say() -> None:
    decision = admit(Peer("127.0.0.1", loopback=True), has_api_key=False, rules=LINUX)
    assert not decision.allowed and "ORQUESTRA_API_KEY" in decision.message


def test_where_the_system_cannot_say_this_machine_is_trusted_as_ollama_does() -> None:
    assert admit(Peer("::1", loopback=True), has_api_key=False, rules=WINDOWS).allowed


def test_another_machine_needs_the_api_key() -> None:
    peer = Peer("192.168.1.20", loopback=False)
    refused = admit(peer, has_api_key=False, rules=KEYED)
    assert refused.status == UNAUTHORIZED and "Bearer" in refused.message
    served = admit(peer, has_api_key=True, rules=KEYED)
    assert served.allowed and served.client == "192.168.1.20"


def test_no_auth_serves_everyone() -> None:
    rules = AuthRules(own_uid=1000, tells_peers=True, api_key_set=False, open_access=True)
    assert admit(Peer("203.0.113.9", loopback=False), has_api_key=False, rules=rules).allowed
    assert admit(Peer("127.0.0.1", loopback=True, uid=7), has_api_key=False, rules=rules).allowed


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_no_key(host: str) -> None:
    assert bind_refusal(host, api_key_set=False, open_access=False) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5"])
def test_beyond_loopback_needs_a_key_or_no_auth(host: str) -> None:
    refusal = bind_refusal(host, api_key_set=False, open_access=False)
    assert refusal is not None and "ORQUESTRA_API_KEY" in refusal and "--no-auth" in refusal
    assert bind_refusal(host, api_key_set=True, open_access=False) is None
    assert bind_refusal(host, api_key_set=False, open_access=True) is None


def test_a_user_proof_is_bound_to_the_key_the_nonce_and_the_port() -> None:
    key, other = b"k" * 64, b"o" * 64
    nonce = new_nonce()
    good = user_proof(key, nonce, 11435)
    assert proven(good, [good])
    assert proven(f"junk, {good}", [user_proof(key, nonce, 11435)])
    assert not proven(user_proof(other, nonce, 11435), [good])
    assert not proven(user_proof(key, new_nonce(), 11435), [good])
    assert not proven(user_proof(key, nonce, 11436), [good])  # a relay on another port
    assert not proven(None, [good]) and not proven("", [good]) and not proven(good, [])


def test_an_api_proof_needs_the_api_key() -> None:
    nonce = new_nonce()
    assert proven(api_proof("s3cret-key", nonce), [api_proof("s3cret-key", nonce)])
    assert not proven(api_proof("guess", nonce), [api_proof("s3cret-key", nonce)])


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        ("Bearer s3cret", True),
        ("bearer s3cret", True),
        ("Bearer  s3cret ", True),
        ("Bearer s3cre", False),
        ("Basic s3cret", False),
        ("s3cret", False),
        ("", False),
        (None, False),
    ],
)
def test_the_bearer_token_must_be_the_api_key(header: str | None, matches: bool) -> None:
    assert bearer_matches(header, "s3cret") is matches
    assert not bearer_matches(header, "")  # no key set: no header admits


def test_the_user_key_is_made_private_once_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "config" / "serve.key"
    key = load_user_key(path)
    assert len(key) == 64 and load_user_key(path) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_key_file_others_can_read_is_refused_naming_the_file_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "serve.key"
    load_user_key(path)
    path.chmod(0o644)
    with pytest.raises(SettingsError, match="read or written by others") as refused:
        load_user_key(path)
    assert str(path) in str(refused.value) and "ORQUESTRA_SERVE_KEY_FILE" in str(refused.value)


def test_a_key_file_that_is_a_link_or_not_a_key_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.key"
    load_user_key(real)
    link = tmp_path / "link.key"
    link.symlink_to(real)
    with pytest.raises(SettingsError, match="cannot be read"):
        load_user_key(link)
    planted = tmp_path / "planted.key"
    planted.write_text("not a key")
    planted.chmod(0o600)
    with pytest.raises(SettingsError, match="does not hold a key"):
        load_user_key(planted)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a file another user owns")
def test_a_key_file_another_user_owns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "serve.key"
    load_user_key(path)
    os.chown(path, 65534, 65534)
    with pytest.raises(SettingsError, match="belongs to uid 65534"):
        load_user_key(path)


def test_a_key_in_a_directory_others_can_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(SettingsError, match="others can write"):
        load_user_key(shared / "serve.key")


LIMITS = LeaseLimits(total=4, per_client=2, idle_s=90.0)


def test_a_client_past_its_lease_bound_gets_429_naming_the_setting() -> None:
    assert lease_refusal(1, 1, "uid 1000", LIMITS) is None
    refusal = lease_refusal(2, 2, "uid 1000", LIMITS)
    assert refusal is not None and refusal.status == TOO_MANY
    assert "ORQUESTRA_SERVE_MAX_LEASES_PER_CLIENT" in refusal.message
    assert "uid 1000" in refusal.message


def test_all_clients_past_the_total_get_503_naming_the_setting() -> None:
    refusal = lease_refusal(4, 0, "10.0.0.2", LIMITS)
    assert refusal is not None and refusal.status == SERVER_FULL
    assert "ORQUESTRA_SERVE_MAX_LEASES " in refusal.message + " "


def test_a_lease_is_taken_back_only_after_its_idle_bound() -> None:
    assert not idle_too_long(89.9, LIMITS)
    assert idle_too_long(90.0, LIMITS)
