"""How `orquestra run` shows a run as it happens: never a silent minute.

Lines that stay (the route, each swap with its timings, each code run with its exit code,
checks and output, the plan, the answer) are printed as they come. Below them, a live
area shows what is happening now, with the seconds it has taken: a model reading its
prompt, a swap in progress, the plan's steps and the answer as the brain writes them,
the code as the executor writes it. Text from programs and models is shown as text,
never as markup, with control characters made visible.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from langchain_core.utils.json import parse_partial_json
from rich.console import Console, RenderableType
from rich.live import Live
from rich.markdown import Markdown
from rich.panel import Panel
from rich.spinner import Spinner
from rich.text import Text

from nodes.stream import CodeRunEvent, PlanEvent, StreamEvent
from orquestra.events import SwapEvent

# Lines of streamed text the live area shows (the latest ones).
LIVE_LINES = 14
# Control characters other than newline and tab, and escape sequences, shown visibly.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Nodes whose model output is JSON (structured output), rendered from the partial JSON.
STRUCTURED_NODES = ("plan", "reflect")
WHO = {"brain": "brain", "executor": "executor"}
DOING = {
    "plan": "planning",
    "reflect": "checking the results and writing the answer",
    "respond": "answering",
    "execute": "writing code",
    "rescue": "fixing the code",
    "route": "classifying the request",
}


def visible(text: str) -> str:
    r"""`text` with control characters and escape sequences shown as `\x1b` etc."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class _Elapsed:
    """A spinner line whose seconds count up on every refresh."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.start = time.monotonic()
        self.spinner = Spinner("dots")

    def __rich__(self) -> RenderableType:
        self.spinner.text = Text(f"{self.label} … {time.monotonic() - self.start:.1f} s")
        return self.spinner


class _Streaming:
    """Text a model is writing now, under a header with its elapsed seconds."""

    def __init__(self, node: str, role: str) -> None:
        self.node = node
        self.role = role
        self.text = ""
        self.tokens = 0
        self.start = time.monotonic()

    def __rich__(self) -> RenderableType:
        seconds = time.monotonic() - self.start
        title = f"{self.role} · {DOING.get(self.node, self.node)} · {seconds:.1f} s"
        return Panel(self._body(), title=title, title_align="left", border_style="dim")

    def _body(self) -> RenderableType:
        if self.node in STRUCTURED_NODES:
            data = parse_partial_json(self.text) if self.text.strip() else None
            if isinstance(data, dict):
                return _partial(self.node, data)
        lines = visible(self.text).splitlines()[-LIVE_LINES:]
        return Text("\n".join(lines) or "…")


def _partial(node: str, data: dict[str, Any]) -> RenderableType:
    if node == "plan":
        steps = data.get("steps") or []
        lines = [str(data.get("goal", ""))]
        for index, step in enumerate(steps, 1):
            if isinstance(step, dict):
                mark = " [code]" if step.get("needs_code") else ""
                lines.append(f"{index}. {step.get('description', '')}{mark}")
        return Text(visible("\n".join(lines)))
    answer = str(data.get("answer") or data.get("revision") or "")
    return Text(visible("\n".join(answer.splitlines()[-LIVE_LINES:])) or "…")


def render_plan(event: PlanEvent) -> Panel:
    """The plan as a panel of numbered steps, code steps marked."""
    steps = "\n".join(
        f"{i}. {s['description']}" + (" [code]" if s["needs_code"] else "")
        for i, s in enumerate(event["steps"], 1)
    )
    return Panel(Text(visible(steps)), title=Text(visible(f"plan: {event['goal']}")))


def render_code_run(event: CodeRunEvent) -> Panel:
    """One code run: who wrote it, exit code, checks, and its output as plain text."""
    accepted = event["accepted"]
    checks = event["checks"] or {}
    verdict = "accepted" if accepted else "rejected"
    if checks.get("total") and event["exit_code"] is not None:
        verdict += f", checks {checks.get('passed', 0)}/{checks['total']}"
    who = f"{event['by']}, " if event["by"] else ""
    title = (
        f"step {event['step']}, attempt {event['attempt']} ({who}exit {event['exit_code']}"
        + (", timed out" if event["timed_out"] else "")
        + f"): {verdict}"
    )
    body = event["stdout"] or event["stderr"] or "(no output)"
    return Panel(
        Text(visible(str(body).rstrip())),
        border_style="green" if accepted else "red",
        title=Text(title),
    )


class RunView:
    """Renders one run's stream (custom events and model tokens) on a console."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = Live(
            Text(""), console=console, transient=True, refresh_per_second=8, auto_refresh=True
        )
        self.current: _Elapsed | _Streaming | None = None
        self.role = "brain"
        self.started = False

    def __enter__(self) -> RunView:
        if self.console.is_terminal:
            self.live.start()
            self.started = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Clear the live area (the run ended or was interrupted)."""
        self._show(None)
        if self.started:
            self.live.stop()
            self.started = False

    def _show(self, current: _Elapsed | _Streaming | None) -> None:
        self.current = current
        if self.started:
            self.live.update(current if current is not None else Text(""), refresh=True)

    def print(self, *renderables: RenderableType) -> None:
        """Print lines that stay, above the live area."""
        self.console.print(*renderables)

    def waiting(self, label: str) -> None:
        """Show `label` with a spinner and its elapsed seconds."""
        self._show(_Elapsed(label))

    def token(self, node: str, text: str) -> None:
        """A model wrote `text` in `node`: show it in the live area."""
        if not isinstance(self.current, _Streaming) or self.current.node != node:
            self._show(_Streaming(node, self.role))
        assert isinstance(self.current, _Streaming)
        self.current.text += text
        self.current.tokens += 1

    def event(self, event: StreamEvent) -> None:
        """A custom event from a node (route, swap, thinking, plan, code_run, ...)."""
        if event["type"] == "route":
            self.print(
                Text(
                    f"route {event['task_type']} → {event['role']} (confidence "
                    f"{event['confidence']:.2f}: {', '.join(event['reasons'][:3])})"
                )
            )
        elif event["type"] == "swap_start":
            self.waiting(event["message"])
        elif event["type"] == "swap":
            swap = SwapEvent.from_dict(event)
            self._show(None)
            self.print(
                Text(
                    f"⇄ {event['message']} (unload {swap.unload_s:.2f} s, "
                    f"wait {swap.vram_wait_s:.2f} s, load {swap.load_s:.2f} s)",
                    style="cyan",
                )
            )
        elif event["type"] == "thinking":
            self.role = event["role"]
            doing = DOING.get(event["node"] or "", "thinking")
            attempt = f", candidate {event['attempt']}" if event.get("attempt") else ""
            self.waiting(f"{self.role} is reading its prompt ({doing}{attempt})")
        elif event["type"] == "plan":
            self._show(None)
            self.print(render_plan(event))
        elif event["type"] == "code_run":
            self._show(None)
            self.print(render_code_run(event))
        elif event["type"] == "reflect" and event["verdict"] == "revise":
            self._show(None)
            self.print(Text("reflect: the brain asked for a revision", style="yellow"))
        elif event["type"] == "error":
            self._show(None)
            self.print(Text(visible(f"error: {event['message']}"), style="red"))

    def answer(self, text: str) -> None:
        """The final answer, as Markdown (code and outputs in it are shown verbatim)."""
        self._show(None)
        self.print(Panel(Markdown(visible(text)), title="answer"))


def state_json(state: dict[str, Any], thread_id: str | None = None) -> str:
    """The final state as JSON for scripts (`orquestra run --json`), with the run's thread."""
    messages = [{"role": m.type, "content": m.content} for m in state.get("messages", [])]
    keys = ("task_type", "route", "plan", "executions", "swaps", "notes", "iteration", "error")
    data = {
        "thread_id": thread_id,
        "messages": messages,
        "answer": messages[-1]["content"] if messages else None,
        **{k: state.get(k) for k in keys},
    }
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)
