"""The dashboard in a real browser: serve it with `streamlit run` on a free
port, open its pages in headless Chromium (Debian's package, driven by
Playwright; Playwright's own browser download is never used) and take
screenshots. `make screenshots` (`python -m dashboards.browser`) writes the
PNGs the README shows; tests/dashboards/test_dashboard_browser.py uses the
same functions."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "dashboards" / "app.py"
SCREENSHOTS = ROOT / "docs" / "screenshots"
WIDTH, HEIGHT = 1280, 800
STARTUP_S = 60.0


@dataclass(frozen=True)
class Page:
    title: str
    path: str  # the URL path st.navigation gives the page file ("" for the default)
    screenshot: str


PAGES = (
    Page("Overview", "", "overview.png"),
    Page("Deal value over time", "deal_value", "deal_value.png"),
    Page("Accounts", "accounts", "accounts.png"),
    Page("Owner performance", "owner_performance", "owner_performance.png"),
    Page("Pipeline over time", "pipeline", "pipeline.png"),
    Page("Stage history", "stage_history", "stage_history.png"),
    Page("Activities", "activities", "activities.png"),
    Page("Data quality", "data_quality", "data_quality.png"),
)


def chromium_path() -> str | None:
    """Debian's Chromium (`apt-get install chromium`), or CHROMIUM_PATH."""
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured if Path(configured).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def browser_missing() -> str | None:
    """None when a browser test can run here, else what is missing."""
    if chromium_path() is None:
        return "no chromium on PATH (`make setup-browser`, or apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make setup)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(env: Mapping[str, str] | None = None, port: int | None = None) -> Iterator[str]:
    """`streamlit run dashboards/app.py` on 127.0.0.1; yields its URL."""
    port = port or free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.headless", "true", "--server.address", "127.0.0.1",
        "--server.port", str(port), "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_healthy(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise RuntimeError(f"streamlit exited ({process.returncode}): {output[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"streamlit did not answer on {url} within {STARTUP_S:.0f} s")


@contextmanager
def browser_page() -> Iterator[Any]:
    """One headless Chromium tab (1280x800), reused for every page."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError(browser_missing() or "no chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def open_page(tab: Any, base_url: str, page: Page) -> None:
    """Go to a page and wait until Streamlit has drawn it and its charts."""
    tab.goto(f"{base_url}/{page.path}")
    tab.get_by_role("heading", name=page.title, exact=True).first.wait_for()
    settle(tab)


def settle(tab: Any) -> None:
    """Wait for the script run to end and the Vega charts to draw."""
    tab.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')"
        "?.getAttribute('data-test-script-state') === 'notRunning'"
        " && !document.querySelector('[data-testid=\"stSkeleton\"]')"
    )
    tab.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]')]"
        ".every(chart => chart.querySelector('canvas, svg'))"
    )
    tab.wait_for_timeout(500)  # the last chart's transition


def screenshots(base_url: str, out: Path) -> list[Path]:
    """One PNG per page in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with browser_page() as tab:
        for page in PAGES:
            open_page(tab, base_url, page)
            path = out / page.screenshot
            tab.screenshot(path=str(path))
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.browser", description=__doc__)
    parser.add_argument("--out", type=Path, default=SCREENSHOTS,
                        help="folder of the PNGs (default docs/screenshots)")
    args = parser.parse_args(argv)
    missing = browser_missing()
    if missing:
        print(f"error: cannot take screenshots: {missing}", file=sys.stderr)
        return 2
    from dashboards import data

    try:
        if data.data_span(data.Warehouse.from_env()) is None:
            raise data.NoData("the deals mart is empty")
    except data.NoData as exc:
        print(f"error: nothing to show: {exc}", file=sys.stderr)
        return 2
    with serve() as url:
        for path in screenshots(url, args.out):
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
