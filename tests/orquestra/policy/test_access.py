"""Which host names and origins `orquestra serve` answers: Ollama's rules, decided purely."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orquestra.policy.access import (
    allowed_origins,
    host_allowed,
    listens_on_loopback,
    origin_allowed,
    same_origin,
    split_host,
)

DEFAULTS = allowed_origins("")


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:11435",
        "localhost:11435",
        "LOCALHOST",
        "[::1]:11435",
        "0.0.0.0:11435",
        "192.168.1.20:11435",  # private: the user's own network
        "studio.localhost:8080",
        "printer.local",
        "gpu.internal:11435",
        "my-pc:11435",  # this machine's own name
        "",
    ],
)
def test_this_machines_names_are_served_on_loopback(host: str) -> None:
    assert host_allowed(host, "my-pc")


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:11435", "8.8.8.8", "localhost.evil.example", "local"]
)
def test_any_other_name_is_refused_on_loopback(host: str) -> None:
    assert not host_allowed(host, "my-pc")


def test_a_public_address_of_this_machine_is_its_own() -> None:
    assert host_allowed("8.8.4.4:11435", "my-pc", {"8.8.4.4"})
    assert not host_allowed("8.8.8.8:11435", "my-pc", {"8.8.4.4"})


@pytest.mark.parametrize(
    ("bind", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("10.0.0.5", False),
    ],
)
def test_which_listening_addresses_are_loopback(bind: str, loopback: bool) -> None:
    assert listens_on_loopback(bind) is loopback


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost",
        "http://localhost:3000",
        "https://127.0.0.1:8443",
        "http://0.0.0.0:5173",
        "app://obsidian.md",
        "vscode-webview://abc",
        "chrome-extension://abcdef",
    ],
)
def test_ollamas_default_origins_are_allowed(origin: str) -> None:
    assert origin_allowed(origin, DEFAULTS)


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://localhost.evil.example", "null", "http://10.0.0.9"]
)
def test_other_origins_are_refused_by_default(origin: str) -> None:
    assert not origin_allowed(origin, DEFAULTS)


def test_orquestra_origins_adds_exact_and_wildcard_origins_as_ollama_origins() -> None:
    patterns = allowed_origins(" 'https://app.example.com, https://*.corp.example' ")
    assert origin_allowed("https://app.example.com", patterns)
    assert origin_allowed("https://wiki.corp.example", patterns)
    assert not origin_allowed("https://corp.example.evil", patterns)
    assert origin_allowed("http://localhost:8080", patterns)  # the defaults stay
    assert origin_allowed("https://anything.example", allowed_origins("*"))


def test_the_servers_own_origin_is_same_origin() -> None:
    assert same_origin("http://127.0.0.1:11435", "127.0.0.1:11435")
    assert not same_origin("http://127.0.0.1:11436", "127.0.0.1:11435")
    assert not same_origin("http://evil.example", "")


@given(st.text(alphabet="abcdefghij.-:[]0123456789", max_size=30))
def test_splitting_a_host_header_never_fails(host: str) -> None:
    assert split_host(host) in host.strip().lower()
    assert isinstance(host_allowed(host, "machine"), bool)  # garbage is judged, never raised
