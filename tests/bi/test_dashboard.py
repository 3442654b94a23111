"""The Evidence dashboard (bi/) opened as a person would, in Debian's headless Chromium.

`make test-bi` builds a small warehouse and its serving copy under .test/bi/, runs `make bi` against
it and then this module with $EVENT_ANALYTICS_SERVING_DIR pointing there (without it: the serving
copy `make bi` reads by default, warehouse/serving). bi/build is served on 127.0.0.1 as a static
host serves it; each page's full-page screenshot is kept in .test/screenshots/bi-<page>.png.

Evidence draws its charts with ECharts on a <canvas> (its default renderer; no page asks for svg),
so a chart counts when its canvas has a size and, read back pixel by pixel, holds several colours.
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "python"))
from browser import CHROMIUM, CHROMIUM_ARGS, Rendered, render  # noqa: E402

BUILD = ROOT / "bi" / "build"
SCREENSHOTS = ROOT / ".test" / "screenshots"
# page name (screenshot, exposures) -> URL path; Evidence writes each page as <path>/index.html
PAGES = {"index": "/", "funnels": "/funnels/", "retention": "/retention/", "experiments": "/experiments/"}
CHART_CANVAS = ".chart canvas"
# What a page shows once its queries have run: a chart, or the red box of a chart that failed (its
# error also goes to the console)
SETTLED = f"{CHART_CANVAS}, .bg-red-50"
# Evidence's layout reads each prerendered query result with Arrow's stream reader, which cancels
# the response body once it has read the last batch: Chromium reports such a request as failed
# (net::ERR_ABORTED) although the server sent all of it. Only those are forgiven, and only when
# this server answered them, in full or with 304 (not modified: the browser's cached copy).
CANCELLED_BY_READER = re.compile(r"/api/prerendered_queries/[0-9a-f]{32}\.arrow")

# Each <canvas> of a chart, read back: its size, and the shares of sampled pixels painted (alpha >
# 0) and in colour (not grey: axes, grid lines and labels are grey, ECharts' series are not). A
# blank canvas has nothing painted; a chart with axes and no series, nothing in colour.
CANVAS_PIXELS_JS = """
(selector) => [...document.querySelectorAll(selector)].map(canvas => {
  const { width, height } = canvas;
  const data = canvas.getContext('2d').getImageData(0, 0, width, height).data;
  let sampled = 0, painted = 0, coloured = 0;
  for (let i = 0; i < data.length; i += 4 * 5) {
    sampled++;
    if (data[i + 3] > 0) painted++;
    const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
    if (data[i + 3] > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 48) coloured++;
  }
  return { width, height, painted: painted / sampled, coloured: coloured / sampled };
})
"""


def serving_dir() -> Path:
    return Path(os.environ.get("EVENT_ANALYTICS_SERVING_DIR") or ROOT / "warehouse" / "serving").resolve()


def mart(name: str) -> str:
    return f"read_parquet('{serving_dir() / 'parquet' / f'{name}.parquet'}')"


class StaticHost(http.server.SimpleHTTPRequestHandler):
    """bi/build as a static host serves it, with byte ranges (duckdb-wasm reads Parquet files by
    range when the host allows it); records the statuses it answered by path."""

    answered: dict[str, set[int]]

    def log_message(self, *args: object) -> None:
        pass

    def send_response(self, code: int, message: str | None = None) -> None:
        self.answered.setdefault(self.path.split("?")[0], set()).add(int(code))
        super().send_response(code, message)

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def send_head(self):  # a file object to copy to the client, or None
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", "").strip())
        path = self.translate_path(self.path)
        if not match or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        start = int(match[1])
        end = min(int(match[2]) if match[2] else size - 1, size - 1)
        if start >= size or end < start:
            self.send_error(416)
            return None
        with open(path, "rb") as file:
            file.seek(start)
            body = file.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[str, dict[str, set[int]]]]:
    """bi/build served on a free port of 127.0.0.1: (base URL, statuses answered by path)."""
    if not (BUILD / "index.html").is_file():
        pytest.fail(f"{BUILD} holds no built dashboard: run `make test-bi` (or `make bi`)")
    answered: dict[str, set[int]] = {}
    handler = functools.partial(type("Host", (StaticHost,), {"answered": answered}), directory=str(BUILD))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", answered
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def pages(site: tuple[str, dict[str, set[int]]]) -> Callable[[str], Rendered]:
    """A page rendered (once), with its screenshot saved."""
    base, _ = site

    @functools.cache
    def rendered(name: str) -> Rendered:
        return render(base + PAGES[name], SCREENSHOTS / f"bi-{name}.png", wait_for=SETTLED)

    return rendered


@pytest.fixture(scope="module")
def canvases(site: tuple[str, dict[str, set[int]]]) -> Callable[[str], list[dict]]:
    """A page's chart canvases read back pixel by pixel (once), when they stop changing (ECharts
    may animate them in)."""
    from playwright.sync_api import sync_playwright

    base, _ = site

    @functools.cache
    def pixels(name: str) -> list[dict]:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(base + PAGES[name], wait_until="networkidle", timeout=60_000)
                page.wait_for_selector(SETTLED, timeout=60_000)
                previous = None
                for _ in range(20):  # at most 10 s
                    sampled = page.evaluate(CANVAS_PIXELS_JS, CHART_CANVAS)
                    if sampled == previous:
                        return sampled
                    previous = sampled
                    page.wait_for_timeout(500)
                return sampled
            finally:
                browser.close()

    return pixels


def expected_charts() -> dict[str, int]:
    """Charts each page draws: fixed, but one funnel chart per funnel of the marts."""
    with duckdb.connect() as con:
        funnels = con.execute(f"select count(distinct funnel_name) from {mart('funnel_steps')}").fetchone()[0]
    return {"index": 5, "funnels": funnels, "retention": 2, "experiments": 2}


def cancelled_by_reader(url: str, answered: dict[str, set[int]]) -> bool:
    """A prerendered query result that this server answered in full (or as not modified)."""
    match = CANCELLED_BY_READER.search(url)
    return bool(match) and bool(answered.get(match[0])) and answered[match[0]] <= {200, 304}


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_without_errors(
    name: str, pages: Callable[[str], Rendered], site: tuple[str, dict[str, set[int]]]
) -> None:
    _, answered = site
    rendered = pages(name)
    assert rendered.console_errors == []
    failed = [url for url in rendered.failed_requests if not cancelled_by_reader(url, answered)]
    assert failed == []
    assert (SCREENSHOTS / f"bi-{name}.png").stat().st_size > 10_000


@pytest.mark.parametrize("name", PAGES)
def test_every_chart_is_drawn(
    name: str, pages: Callable[[str], Rendered], canvases: Callable[[str], list[dict]]
) -> None:
    expected = expected_charts()[name]
    assert expected >= 1
    drawn = [chart for chart in pages(name).charts if chart["tag"] == "canvas"]
    assert len(drawn) == expected, drawn
    assert all(chart["width"] > 0 and chart["height"] > 0 for chart in drawn), drawn
    pixels = canvases(name)
    assert len(pixels) == expected, pixels
    for canvas in pixels:
        assert canvas["width"] > 0 and canvas["height"] > 0, canvas
        # drawn, and with a series: a line chart's thin lines colour about 1% of the pixels
        assert canvas["painted"] > 0.02 and canvas["coloured"] > 0.002, canvas


def test_pages_show_the_numbers_of_the_marts(pages: Callable[[str], Rendered]) -> None:
    manifest = json.loads((serving_dir() / "manifest.json").read_text())
    with duckdb.connect() as con:
        events, sessions, users = con.execute(
            f"select count(*), count(distinct session_id), count(distinct user_key) from {mart('fct_events')}"
        ).fetchone()
        entered = con.execute(
            f"select funnel_name, users from {mart('funnel_steps')} where breakdown_key is null and step_index = 1"
        ).fetchall()
        cohorts = con.execute(
            f"select distinct cohort_users from {mart('cohort_retention')} where period_offset = 0"
        ).fetchall()
        variants = con.execute(f"select variant, users from {mart('experiment_results')}").fetchall()

    index = pages("index").text
    # the publish the dashboard was built from is the one in the serving folder now
    assert manifest["publish_id"] in index, "bi/build was built from another publish: run `make bi`"
    for number in (events, sessions, users):
        assert f"{number:,}" in index
    assert entered and variants and cohorts
    for funnel, users_at_start in entered:
        assert funnel in pages("funnels").text
        assert f"{users_at_start:,}" in pages("funnels").text
    for (cohort_users,) in cohorts:
        assert f"{cohort_users:,}" in pages("retention").text
    for variant, variant_users in variants:
        assert variant in pages("experiments").text
        assert f"{variant_users:,}" in pages("experiments").text
