"""What a person sees, in a real headless Chromium: the MLflow UI over a small sweep, and its
report.html opened from disk.

Playwright (pinned in the dev extras) drives Debian's ``chromium``, which ``make test`` (its
``browser`` step) installs when it is missing and it runs as root; Playwright's own browser
download is not used.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BIN = Path(sys.executable).parent

# CI sets IMBSWEEP_REQUIRE_BROWSER=1: there a missing chromium fails instead of skipping.
REQUIRED = os.environ.get("IMBSWEEP_REQUIRE_BROWSER") == "1"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None and not REQUIRED,
        reason="no chromium on PATH (make test adds it as root)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    import urllib.request

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"mlflow ui exited: {proc.stdout.read()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {timeout} s")


@contextlib.contextmanager
def _serve(uri: str):
    """`mlflow ui` over the store at ``uri``, on a free port: its base URL."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
    server = subprocess.Popen(
        [BIN / "mlflow", "ui", "--backend-store-uri", uri, "--host", "127.0.0.1"]
        + ["--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/health", server, 120)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture(scope="module")
def ui(small_sweep):
    """`mlflow ui` over the shared small sweep's store."""
    uri, sweep_dir = small_sweep
    with _serve(uri) as base:
        yield base, uri, sweep_dir


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # --no-sandbox: Chromium's sandbox refuses to run as root (CI runs as root).
        assert CHROMIUM, "no chromium on PATH: as root, `make test` installs Debian's"
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _runs(uri: str):
    import mlflow

    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(search_all_experiments=True, max_results=1000)


def test_mlflow_ui_shows_sweep_job_and_seed_runs_and_the_headline_column(ui, browser):
    base, uri, _ = ui
    runs = _runs(uri)
    sweep = runs[runs["tags.run_level"] == "sweep"].iloc[0]
    job = runs[runs["tags.mlflow.runName"] == "brf trees=10 | fraud"].iloc[0]
    page = browser.new_page(viewport={"width": 2400, "height": 1400})
    page.set_default_timeout(60_000)  # the UI's bundle is large; a busy machine is slow
    page.goto(f"{base}/#/experiments/{sweep['experiment_id']}/runs", wait_until="domcontentloaded")
    sweep_name = sweep["tags.mlflow.runName"]
    page.get_by_text(sweep_name).first.wait_for()
    # The headline metric as a column, as a person adds it (Columns, search, tick).
    page.get_by_role("button", name="Columns").click()
    page.get_by_placeholder("Search columns").fill("minority_f1")
    page.get_by_text("minority_f1", exact=True).first.click()
    page.keyboard.press("Escape")
    header = page.locator("[role=columnheader]").filter(has_text="minority_f1")
    assert header.first.is_visible()

    def expand(name: str) -> None:
        row = page.get_by_role("row").filter(has_text=name).first
        row.locator('[col-id="attributes.`Run Name`"] button').first.click()

    expand(sweep_name)
    for name in ("brf trees=10 | fraud", "brf trees=10 | synthetic", "naive | fraud"):
        page.get_by_text(name, exact=True).first.wait_for()
    expand("brf trees=10 | fraud")
    page.get_by_text("seed=1 brf trees=10", exact=True).first.wait_for()
    # The job run's minority_f1 cell shows the mean over its seeds (the store's value).
    # The grid splits a row in two (pinned name column, the rest): the same row-index.
    idx = page.get_by_role("row").filter(has_text="brf trees=10 | fraud").first
    idx = idx.get_attribute("row-index")
    cell = page.locator(f'[role=row][row-index="{idx}"] [col-id="metrics.`minority_f1`"]').first
    shown = cell.inner_text().strip()
    assert float(shown) == pytest.approx(job["metrics.minority_f1"], abs=1e-3), shown
    page.close()


def test_the_printed_runs_url_opens_on_the_headline_columns_best_first(ui, browser):
    """The URL the sweep prints (imbsweep.ui_view): no column to add, no sort to set."""
    from imbsweep import ui_view

    base, uri, _ = ui
    runs = _runs(uri)
    sweep = runs[runs["tags.run_level"] == "sweep"].iloc[0]
    assert sweep["tags.best_method"] == "brf trees=10"  # the sweep row names its answer
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(ui_view.runs_url(sweep["experiment_id"], base), wait_until="domcontentloaded")
    page.get_by_text(sweep["tags.mlflow.runName"]).first.wait_for()
    heads = page.locator("[role=columnheader]")
    for name in ("minority_f1", "minority_recall", "best_method"):
        assert heads.filter(has_text=name).first.is_visible(), name
    idx = page.get_by_role("row").filter(has_text=sweep["tags.mlflow.runName"]).first
    idx = idx.get_attribute("row-index")
    cell = page.locator(f'[role=row][row-index="{idx}"] [col-id="metrics.`minority_f1`"]').first
    # The sweep row shows its best method's value, not "-".
    assert float(cell.inner_text()) == pytest.approx(sweep["metrics.minority_f1"], abs=1e-3)
    page.close()


def test_report_html_renders_its_tables_and_images_offline(ui, browser):
    _, _, sweep_dir = ui
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    asked = []

    def only_the_file(route):
        asked.append(route.request.url)
        route.abort()

    page.route("http*://**", only_the_file)  # any network request would be a defect
    page.goto((sweep_dir / "report.html").as_uri())
    headings = page.locator("h2").all_inner_texts()
    assert headings[:5] == [
        "The answer",  # first: which method is best, by how much, how surely
        "Ranges over seeds",
        "Per-seed values",
        "Precision-recall curves",
        "Confusion matrices",
    ]
    assert {"Statistics", "Critical-difference diagram", "Reliability diagrams"} <= set(headings)
    ranges = page.locator("table.ranges tbody tr")
    assert ranges.count() == 4  # 2 methods x 2 datasets
    assert "brf trees=10" in ranges.first.inner_text()  # the best on minority F1 first
    assert "has the best minority_f1" in page.locator("#answer").inner_text()
    assert page.locator("table.confusion").count() == 4
    widths = page.eval_on_selector_all(
        "img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)"
    )
    # Box plots, PR curves, the CD diagram, reliability (one panel per dataset): all rendered.
    assert len(widths) == 5 and min(widths) > 0, widths
    assert asked == []
    page.close()


def test_report_html_verdict_on_top_and_statistics_fit_the_page(ui, browser):
    """At 1,280 px: the answer is on the first screen and no statistics table needs a
    horizontal scroll (one comparison per row, verdict column first, p (Holm) shown)."""
    _, _, sweep_dir = ui
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto((sweep_dir / "report.html").as_uri())
    answer = page.locator("#answer").bounding_box()
    assert answer is not None and answer["y"] < 800, answer  # visible without scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    tables = page.locator("#stats table.stats")
    assert tables.count() >= 3  # paired, across datasets (omnibus and pairs)
    fits = page.eval_on_selector_all(
        "#stats table.stats",
        "ts => ts.filter(t => t.offsetParent !== null)"
        ".map(t => [t.scrollWidth, t.parentElement.clientWidth, t.getBoundingClientRect().right])",
    )
    assert fits and all(w <= box and right <= 1280 for w, box, right in fits), fits
    heads = page.locator("#stats table.paired").first.locator("th").all_inner_texts()
    assert heads[0] == "Verdict" and "p (Holm)" in heads, heads
    assert "Stage" not in heads  # the same on every row: said above the table
    page.close()


def test_seed_runs_sorted_by_run_name_come_in_seed_order(browser, tmp_path):
    """12 seeds, the UI sorted on Run Name ascending: seed 10 after seed 9, not after seed 1."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["imbsweep", "method=naive", "dataset=synthetic", "seeds=12"]
    args += ["dataset.n_samples=500", "split.protocol=holdout", "hydra/launcher=basic"]
    r = run_cli([*args, f"hydra.sweep.dir={tmp_path / 'sweep'}"], tmp_path, uri)
    assert r.returncode == 0, r.stderr[-3000:]
    runs = _runs(uri)
    sweep = runs[runs["tags.run_level"] == "sweep"].iloc[0]
    names = [f"seed={s:02d} naive" for s in range(12)]
    assert set(runs["tags.mlflow.runName"]) >= set(names)
    with _serve(uri) as base:
        page = browser.new_page(viewport={"width": 1600, "height": 1400})
        page.set_default_timeout(60_000)
        # What clicking the Run Name header twice (descending, then ascending) sets.
        order = "orderByKey=tags.%60mlflow.runName%60&orderByAsc=true"
        page.goto(f"{base}/#/experiments/{sweep['experiment_id']}/runs?{order}")
        # Sorted on anything but start time, MLflow lists the runs flat (nothing to expand).
        page.get_by_text(names[-1], exact=True).first.wait_for()
        # The grid may keep rows out of DOM order: their row-index is the order shown.
        rows = page.eval_on_selector_all(
            '[role=row][row-index] [col-id="attributes.`Run Name`"]',
            "cs => cs.map(c => [+c.closest('[role=row]').getAttribute('row-index'),"
            " c.innerText.trim()])",
        )
        page.close()
    shown = [text.splitlines()[-1] for _, text in sorted(rows)]  # after the run's colour
    assert [n for n in shown if n.startswith("seed=")] == names, shown
