"""Who may use `orquestra serve`: the rules, as pure decisions.

Under the defaults a scheduler serves only its own user:

- A connection from this machine is answered when the user who opened it is the one the
  scheduler runs as (the kernel says who, on Linux); another user's is refused with 403.
  Where the system cannot say (Windows, macOS), this machine's connections are answered,
  as Ollama answers them; `ORQUESTRA_API_KEY` closes that gap.
- A connection from another machine needs the API key (`Authorization: Bearer …`), and a
  scheduler does not listen beyond loopback without one unless `--no-auth` is given.
- A request with the API key is answered from anywhere; `--no-auth` answers everyone.
"""

from __future__ import annotations

from dataclasses import dataclass

from orquestra.policy.access import listens_on_loopback

# The setting that holds the API key, named in every refusal.
API_KEY_SETTING = "ORQUESTRA_API_KEY"
# Refused: no credentials (401) and credentials that do not admit (403), as HTTP means them.
UNAUTHORIZED = 401
FORBIDDEN = 403


@dataclass(frozen=True)
class Peer:
    """The other end of a connection, as far as the scheduler can tell."""

    address: str
    """Its IP address."""
    loopback: bool
    """Whether it connected from this machine."""
    uid: int | None = None
    """The user who opened it (connections from this machine, where the system says)."""


@dataclass(frozen=True)
class AuthRules:
    """What the scheduler was started with."""

    own_uid: int | None
    """The user it runs as (None where users have no uid)."""
    tells_peers: bool
    """Whether this system says which user opened a local connection."""
    api_key_set: bool
    """Whether `ORQUESTRA_API_KEY` is set."""
    open_access: bool = False
    """`--no-auth`: everyone who reaches the port is served."""


@dataclass(frozen=True)
class Admission:
    """The answer to one request's credentials."""

    allowed: bool
    client: str
    """Who it counts as for per-client bounds (a user, or an address)."""
    status: int = 200
    message: str = ""


def admit(peer: Peer, *, has_api_key: bool, rules: AuthRules) -> Admission:
    """Whether `peer`'s request (carrying the API key or not) is served, and as whom."""
    who = f"uid {peer.uid}" if peer.uid is not None else peer.address
    if has_api_key or rules.open_access:
        return Admission(True, who)
    if peer.loopback:
        if peer.uid is not None and peer.uid == rules.own_uid:
            return Admission(True, who)
        if peer.uid is not None:
            return Admission(False, who, FORBIDDEN, _other_user(peer.uid, rules))
        if not rules.tells_peers:  # nothing says who: this machine is trusted, as by Ollama
            return Admission(True, who)
        return Admission(False, who, FORBIDDEN, _unknown_user(rules))
    return Admission(False, who, UNAUTHORIZED, _needs_key(rules))


def bind_refusal(host: str, *, api_key_set: bool, open_access: bool) -> str | None:
    """Why the scheduler must not listen on `host` as configured, or None."""
    if listens_on_loopback(host) or api_key_set or open_access:
        return None
    return (
        f"orquestra serve --host {host} would serve other machines with no authentication. "
        f"Set {API_KEY_SETTING} (clients send it as `Authorization: Bearer <key>`; make one "
        "with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`), or pass "
        "--no-auth to serve anyone who reaches the port."
    )


def _other_user(uid: int, rules: AuthRules) -> str:
    return (
        f"this orquestra serve belongs to another user (it runs as uid {rules.own_uid}; this "
        f"request came from uid {uid}). Use your own: set ORQUESTRA_SERVE_PORT to a free port "
        f"(it starts there on its own), or send its {API_KEY_SETTING} as "
        "`Authorization: Bearer <key>`."
    )


def _unknown_user(rules: AuthRules) -> str:
    return (
        "orquestra serve cannot tell which user opened this connection (another network "
        f"namespace?), so it serves only uid {rules.own_uid}'s. Send {API_KEY_SETTING} as "
        "`Authorization: Bearer <key>`."
    )


def _needs_key(rules: AuthRules) -> str:
    if not rules.api_key_set:
        return "orquestra serve answers other machines only with an API key; none is set."
    return (
        f"orquestra serve needs an API key from other machines: send {API_KEY_SETTING}'s value "
        "as `Authorization: Bearer <key>` (OpenAI clients: api_key=...; ollama.Client: "
        "headers={'Authorization': 'Bearer <key>'})."
    )
