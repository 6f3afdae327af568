"""Which browsers and host names `orquestra serve` answers: Ollama's rules, as pure decisions.

Two checks keep web pages out, as Ollama's server does (`allowedHostsMiddleware` and its
CORS configuration with `OLLAMA_ORIGINS`):

- **Host.** A scheduler listening on loopback answers only requests whose `Host` names
  this machine: an IP address that is loopback, private, unspecified or one of this
  machine's, `localhost`, the machine's own name, or a name under `.localhost`, `.local`
  or `.internal`. A page on `evil.example` whose name was rebound to 127.0.0.1 (DNS
  rebinding) still sends `Host: evil.example`, and is refused. Listening on another
  address serves any host name (what protects it then is authentication).
- **Origin.** A request that carries an `Origin` other than the server's own is answered
  only when the origin is allowed: the extra ones of `ORQUESTRA_ORIGINS` (comma-separated,
  `*` as a wildcard, the syntax of `OLLAMA_ORIGINS`), then Ollama's defaults (http and
  https on localhost, 127.0.0.1 and 0.0.0.0, any port; desktop-app and editor schemes;
  browser extensions). Every cross-site request a page can send carries an Origin, the
  "simple" `text/plain` POST included.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

# The environment variable of the allowlist, named in every refusal.
ORIGINS_SETTING = "ORQUESTRA_ORIGINS"
# Ollama's default origins (envconfig.AllowedOrigins): these hosts, http and https, any port.
DEFAULT_ORIGIN_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0")
# ...and the schemes of desktop apps and editors that embed a page.
DEFAULT_APP_ORIGINS = ("app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*")
# Browser extensions are allowed, as Ollama's CORS configuration does.
EXTENSION_SCHEMES = ("chrome-extension://", "moz-extension://", "safari-extension://")
# Host names under these top-level names are this machine's or its local network's.
LOCAL_TOP_LEVEL = ("localhost", "local", "internal")
# Addresses that mean "this machine" when the server listens on them.
LOOPBACK_NAMES = ("localhost",)


def allowed_origins(extra: str) -> tuple[str, ...]:
    """The origin patterns: `extra` (ORQUESTRA_ORIGINS) first, then Ollama's defaults."""
    given = [o.strip() for o in extra.strip().strip("\"'").split(",") if o.strip()]
    defaults = [
        f"{scheme}://{host}{port}"
        for host in DEFAULT_ORIGIN_HOSTS
        for scheme in ("http", "https")
        for port in ("", ":*")
    ]
    return (*given, *defaults, *DEFAULT_APP_ORIGINS)


def _matches(origin: str, pattern: str) -> bool:
    if pattern == "*":
        return True
    if "*" not in pattern:
        return origin == pattern
    prefix, _, suffix = pattern.partition("*")
    return (
        len(origin) >= len(prefix) + len(suffix)
        and origin.startswith(prefix)
        and origin.endswith(suffix)
    )


def origin_allowed(origin: str, patterns: Iterable[str]) -> bool:
    """Whether a page from `origin` may use the scheduler."""
    origin = origin.strip().lower()
    if origin.startswith(EXTENSION_SCHEMES):
        return True
    return any(_matches(origin, pattern.lower()) for pattern in patterns)


def same_origin(origin: str, host: str) -> bool:
    """Whether `origin` is the server's own (the dashboard's page calling its API)."""
    origin = origin.strip().lower()
    return bool(host) and origin in (f"http://{host.lower()}", f"https://{host.lower()}")


def split_host(host: str) -> str:
    """The name or address in a `Host` header, without its port and brackets."""
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8080
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def listens_on_loopback(bind_host: str) -> bool:
    """Whether a server listening on `bind_host` can be reached only from this machine."""
    name = split_host(bind_host)
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_allowed(host: str, machine_name: str, local_addresses: Iterable[str] = ()) -> bool:
    """Whether a scheduler on loopback answers a request with this `Host` header."""
    name = split_host(host)
    if name in ("", "localhost") or name == machine_name.lower():
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return any(name.endswith(f".{top}") for top in LOCAL_TOP_LEVEL)
    return (
        address.is_loopback
        or address.is_private
        or address.is_unspecified
        or name in {a.lower() for a in local_addresses}
    )
