"""The dashboard: `/` for Ollama clients and browsers, the page, its live stream, a browser."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import httpx
import ollama
import pytest

from orquestra.client.trust import Trust
from orquestra.settings import load_settings
from tests.fakes.ollama import FakeOllamaState
from tests.graph_support import BRAIN, EXECUTOR
from tests.orquestra.server.conftest import Scheduler, wait_until

DOCS = Path(__file__).resolve().parents[3] / "docs"
# `ORQUESTRA_SCREENSHOT=docs pytest ...` refreshes docs/dashboard.png; otherwise the
# screenshot goes to a temporary file (read here: the test environment drops ORQUESTRA_*).
SCREENSHOT_TO_DOCS = os.environ.get("ORQUESTRA_SCREENSHOT") == "docs"


def test_root_answers_ollama_clients_and_sends_browsers_to_the_dashboard(
    scheduler: Scheduler,
) -> None:
    assert httpx.get(scheduler.url).text == "Ollama is running (orquestra serve)"
    assert httpx.head(scheduler.url).status_code == 200
    browser = httpx.get(scheduler.url, headers={"Accept": "text/html,*/*"})
    assert browser.status_code == 307 and browser.headers["location"] == "/dashboard"
    page = httpx.get(f"{scheduler.url}/dashboard")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for asset in ("dashboard.js", "dashboard.css"):
        answer = httpx.get(f"{scheduler.url}/dashboard/{asset}")
        assert answer.status_code == 200
        assert "//cdn" not in answer.text and "https://" not in answer.text  # works offline
    assert "https://" not in page.text
    assert httpx.get(f"{scheduler.url}/dashboard/secrets.py").status_code == 404


def _snapshots(url: str, seen: list[dict[str, Any]], stop: threading.Event) -> None:
    with httpx.stream("GET", f"{url}/orquestra/events", timeout=20) as events:
        for line in events.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line.removeprefix("data: ")))
            if stop.is_set():
                return


def test_the_stream_pushes_swaps_and_requests_as_they_happen(
    scheduler: Scheduler, state: FakeOllamaState
) -> None:
    seen: list[dict[str, Any]] = []
    stop = threading.Event()
    reader = threading.Thread(target=_snapshots, args=(scheduler.url, seen, stop), daemon=True)
    reader.start()
    wait_until(lambda: len(seen) >= 1)
    assert seen[0]["swaps"] == [] and {m["role"] for m in seen[0]["models"]} == {
        "brain",
        "executor",
    }
    client = ollama.Client(host=scheduler.url, headers={"X-Orquestra-Client": "notebook"})
    client.chat(model=EXECUTOR, messages=[{"role": "user", "content": "oi"}])
    wait_until(lambda: any(s["swaps"] for s in seen), timeout_s=10)
    wait_until(lambda: seen[-1]["requests"], timeout_s=10)
    stop.set()
    latest = seen[-1]
    executor = scheduler.manager.model_for("executor")
    assert latest["swaps"][-1]["to_model"] == executor
    assert {k for k in latest["swaps"][-1]} >= {"unload_s", "vram_wait_s", "load_s", "total_s"}
    request = latest["requests"][0]
    assert request["client"].startswith("notebook @ 127.0.0.1")
    assert (request["model"], request["status"], request["path"]) == (EXECUTOR, 200, "/api/chat")
    assert latest["clients"][0]["requests"] == 1
    assert next(m for m in latest["models"] if m["role"] == "executor")["loaded"]
    snapshot = httpx.get(f"{scheduler.url}/orquestra/dashboard").json()
    assert snapshot["swap_count"] == 1 and snapshot["vram"]["budget_gb"] == 16.0


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.mark.skipif(
    _chromium() is None,
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
    "chromium-driver; .ci/run installs them)",
)
def test_a_swap_made_through_the_api_appears_on_the_page(
    scheduler: Scheduler, state: FakeOllamaState, tmp_path: Path
) -> None:
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (dev extra)")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser, driver_path = _chromium()  # type: ignore[misc]
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument("--window-size=1280,800")
    driver = webdriver.Chrome(service=webdriver.ChromeService(driver_path), options=options)
    try:
        driver.get(scheduler.url + "/")  # a browser asks for text/html: sent to /dashboard
        wait = WebDriverWait(driver, 15)
        wait.until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "live"
        )
        assert driver.find_elements(By.CSS_SELECTOR, "#swaps tr") == []
        state.load_s = 0.4  # swaps long enough to see their stages on the timeline
        for name, model in (("studio", EXECUTOR), ("notebook", BRAIN), ("aider", EXECUTOR)):
            client = ollama.Client(host=scheduler.url, headers={"X-Orquestra-Client": name})
            client.chat(model=model, messages=[{"role": "user", "content": "oi"}])
        # The page receives each swap over SSE as it happens (no polling); the bound only
        # absorbs a loaded CI machine: it is not a measurement.
        executor = scheduler.manager.model_for("executor")
        brain = scheduler.manager.model_for("brain")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#swaps tr.swap")) == 3)
        rows = driver.find_elements(By.CSS_SELECTOR, "#swaps tr.swap")
        assert [r.get_attribute("data-to") for r in rows] == [executor, brain, executor]
        assert driver.find_elements(By.CSS_SELECTOR, "#timeline .swap-stage")
        assert "aider" in driver.find_element(By.ID, "clients").text
        shot = (DOCS if SCREENSHOT_TO_DOCS else tmp_path) / "dashboard.png"
        assert driver.save_screenshot(str(shot))
        assert shot.read_bytes().startswith(b"\x89PNG")
        driver.set_window_size(390, 844)  # a phone: one column, still readable
        width = driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= 400
    finally:
        driver.quit()


def test_status_watch_shows_the_same_live_view(
    scheduler: Scheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from orquestra.app import status_view

    ollama.Client(host=scheduler.url, headers={"X-Orquestra-Client": "cli"}).chat(
        model=EXECUTOR, messages=[{"role": "user", "content": "oi"}]
    )
    monkeypatch.setattr(status_view, "REFRESH_S", 0.01)
    console = Console(record=True, width=160, force_terminal=False)
    status_view.watch(Trust.of(scheduler.url, load_settings()), console, iterations=2)
    shown = console.export_text()
    executor = scheduler.manager.model_for("executor")
    assert "resident" in shown and executor in shown
    assert "last swaps (1 so far)" in shown and "cli @ 127.0.0.1" in shown


def test_status_watch_names_the_fix_without_a_scheduler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from orquestra.app.cli import app

    monkeypatch.setenv("ORQUESTRA_URL", "http://127.0.0.1:9")
    result = CliRunner().invoke(app, ["status", "--watch"])
    assert result.exit_code == 1 and "orquestra serve" in result.output
