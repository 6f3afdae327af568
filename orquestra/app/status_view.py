"""`orquestra status --watch`: the dashboard's live view in the terminal (rich Live)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from orquestra.client.trust import Trust

SNAPSHOT_PATH = "/orquestra/dashboard"  # orquestra.server.dashboard.SNAPSHOT_PATH
REFRESH_S = 0.5


def _at(unix: float) -> str:
    return datetime.fromtimestamp(unix).strftime("%H:%M:%S")


def render(snap: dict[str, Any]) -> Group:
    """The view of one dashboard snapshot: models, VRAM, last swaps, clients."""
    models = Table(title="models", expand=True)
    for column in ("role", "model", "state", "leases", "queued"):
        models.add_column(column)
    for m in snap["models"]:
        state = "loading…" if m["swapping_to"] else "resident" if m["loaded"] else "-"
        models.add_row(m["role"], escape(m["model"]), state, str(m["leases"]), str(m["queued"]))
    vram = snap["vram"]
    scale = max(vram["total_gb"], vram["budget_gb"], 0.01)
    bar = Table.grid(expand=True)
    bar.add_column(ratio=1)
    bar.add_column()
    bar.add_row(
        ProgressBar(total=scale, completed=vram["used_gb"]),
        f" {vram['used_gb']:.2f} / budget {vram['budget_gb']:.2f} GiB",
    )
    swaps = Table(title=f"last swaps ({snap['swap_count']} so far)", expand=True)
    for column in ("when", "from → to", "why", "unload", "VRAM wait", "load", "total"):
        swaps.add_column(column)
    for s in reversed(snap["swaps"][-8:]):
        swaps.add_row(
            _at(s["started_at"]),
            escape(f"{', '.join(s['from_models']) or '—'} → {s['to_model']}"),
            s["reason"],
            *(f"{s[k]:.2f} s" for k in ("unload_s", "vram_wait_s", "load_s", "total_s")),
        )
    clients = Table(title="clients", expand=True)
    for column in ("client", "requests", "last"):
        clients.add_column(column)
    for c in snap["clients"][:8]:
        last = f"{_at(c['last_at'])} {c['last_model']} {c['last_status']}"
        clients.add_row(escape(c["client"]), str(c["requests"]), escape(last))
    header = Text(f"orquestra serve · {snap['backend']} · {snap['policy']} · {_at(snap['now'])}")
    return Group(header, models, bar, swaps, clients)


def watch(trust: Trust, console: Console, *, iterations: int | None = None) -> None:
    """Show the scheduler `trust` proves live until Ctrl-C (or `iterations` refreshes)."""
    url = trust.url
    hooks = trust.event_hooks()
    with (
        httpx.Client(base_url=url, timeout=5.0, event_hooks=hooks) as client,
        Live(console=console) as live,
    ):
        shown = 0
        while iterations is None or shown < iterations:
            try:
                live.update(render(client.get(SNAPSHOT_PATH).raise_for_status().json()))
            except httpx.HTTPError as exc:
                live.update(Text(f"orquestra serve at {url} does not answer: {exc}"))
            shown += 1
            time.sleep(REFRESH_S)
