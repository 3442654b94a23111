"""Open a page in Debian's headless Chromium as a person would, and say what it rendered.

`make chromium` installs the browser; Playwright only drives it (no browser download).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The machine's network is closed: without these, Chromium retries Google's hosts at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Rendered:
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    # Each chart on the page (svg or canvas) with its drawn size and how many elements it holds
    charts: list[dict] = field(default_factory=list)
    text: str = ""


CHARTS_JS = """
() => [...document.querySelectorAll('svg, canvas')].map(el => {
  const box = el.getBoundingClientRect();
  return {
    tag: el.tagName.toLowerCase(),
    width: box.width,
    height: box.height,
    elements: el.tagName.toLowerCase() === 'svg'
      ? el.querySelectorAll('path, rect, circle, line, polyline, text, use').length
      : -1,
    id: el.closest('[id]') ? el.closest('[id]').id : '',
  };
})
"""


def render(url: str, screenshot: Path, *, wait_for: str | None = None, timeout_ms: int = 60_000) -> Rendered:
    """Load `url` (http://… or file://…), wait for the network to go quiet (and for `wait_for`, a
    CSS selector, if given), save a full-page screenshot, and report console errors, failed
    requests and the charts drawn."""
    from playwright.sync_api import sync_playwright

    screenshot.parent.mkdir(parents=True, exist_ok=True)
    rendered = Rendered()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: m.type == "error" and rendered.console_errors.append(m.text))
            page.on("pageerror", lambda e: rendered.console_errors.append(str(e)))
            page.on("requestfailed", lambda r: rendered.failed_requests.append(r.url))
            page.goto(url, wait_until="networkidle", timeout=timeout_ms)
            if wait_for:
                page.wait_for_selector(wait_for, timeout=timeout_ms)
            page.screenshot(path=str(screenshot), full_page=True)
            rendered.charts = page.evaluate(CHARTS_JS)
            rendered.text = page.inner_text("body")
        finally:
            browser.close()
    return rendered
