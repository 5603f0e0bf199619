"""What a person compares: job and seed runs in the MLflow store, and the sweep's report.html.

The slow tests share one small real sweep (conftest's ``small_sweep``) with the browser test
(test_browser.py).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from imbsweep import report_html

# A two-dataset sweep: reliability diagrams come as one panel per dataset.
SECTIONS = ("answer", "ranges", "plots", "pr", "confusion", "stats", "cd", "reliability")


class _Page(HTMLParser):
    """Sections, tables, images and links of a page, as a browser would find them."""

    def __init__(self):
        super().__init__()
        self.sections, self.images, self.links, self.tables, self.h2 = [], [], [], 0, []
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a.get("id"))
        elif tag == "img":
            self.images.append(a.get("src", ""))
        elif tag in ("a", "link", "script"):
            self.links.append(a.get("href") or a.get("src") or "")
        elif tag == "table":
            self.tables += 1
        self._in_h2 = tag == "h2"

    def handle_data(self, data):
        if self._in_h2:
            self.h2.append(data)
            self._in_h2 = False


def parse(path) -> _Page:
    p = _Page()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def test_confusion_matrix_from_the_seed_metrics(tmp_path):
    # 2 seeds: TP = recall x positives, FP = predicted positives - TP, rows = true class.
    rows = pd.DataFrame(
        {
            "label": ["a", "a"],
            "method": ["a", "a"],
            "dataset": ["d", "d"],
            "seed": [0, 1],
            "minority_recall": [0.5, 0.75],
            "minority_f1": [0.4, 0.6],
            "test_class0": [96.0, 96.0],
            "test_class1": [4.0, 4.0],
            "predicted_positives": [6.0, 3.0],
        }
    )
    html = report_html.confusion_matrices(rows)
    # Mean per seed: TP (2+3)/2, FN (2+1)/2, FP (4+0)/2, TN (92+96)/2.
    cells = re.findall(r"<td>([\d.]+) \(", html)
    assert [float(c) for c in cells] == [94.0, 2.0, 1.5, 2.5]
    page = report_html.write(rows, tmp_path, {}, "t", plots=False)
    p = parse(page)
    assert p.sections == ["ranges", "confusion"] and p.images == []
    # Runs without pr_curve.json (older sweeps, rebuilt by imbsweep-report): a note, no crash.
    p = parse(report_html.write(rows.drop(columns="test_class0"), tmp_path, {}, "t"))
    assert p.sections == ["ranges", "plots", "pr", "confusion"] and len(p.images) == 1


def _runs(uri: str) -> pd.DataFrame:
    import mlflow

    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(search_all_experiments=True, max_results=1000)


@pytest.mark.slow
def test_job_runs_compare_with_seed_runs_in_one_column(small_sweep):
    uri, _ = small_sweep
    runs = _runs(uri)
    level = runs["tags.run_level"]
    jobs, seeds = runs[level == "job"], runs[level == "seed"]
    # Two datasets: job names carry theirs; seed names start with the seed.
    assert set(jobs["tags.mlflow.runName"]) == {
        f"{m} | {d}" for m in ("naive", "brf trees=10") for d in ("synthetic", "fraud")
    }
    assert sorted(seeds["tags.mlflow.runName"]) == sorted(
        f"seed={s} {m}" for s in range(3) for m in ("naive", "brf trees=10") for _ in range(2)
    )
    for _, job in jobs.iterrows():
        mine = seeds[seeds["tags.mlflow.parentRunId"] == job["run_id"]]
        assert len(mine) == 3
        for m in ("minority_f1", "average_precision", "brier", "fit_seconds"):
            v = mine[f"metrics.{m}"].to_numpy()
            assert job[f"metrics.{m}"] == pytest.approx(v.mean())  # the same column
            assert job[f"metrics.{m}_std"] == pytest.approx(np.std(v, ddof=1))
            assert job[f"metrics.{m}_max"] == pytest.approx(v.max())
        assert job["metrics.minority_f1_ci_low"] <= job["metrics.minority_f1"]
        assert job["metrics.train_class1"] == pytest.approx(mine["metrics.train_class1"].mean())
        params = {c[len("params.") :] for c in runs.columns if c.startswith("params.")}
        logged = {p for p in params if pd.notna(job[f"params.{p}"])}
        # Only what differs between the sweep's jobs: the compare view opens on what was swept.
        assert {"dataset.name", "method.name"} <= logged
        assert not {"seeds", "stage", "dataset.n_samples", "split.protocol"} & logged, logged
        assert all(p.startswith("method.") or p == "dataset.name" for p in logged), logged
        assert "method.n_estimators" not in logged  # brf's own key: naive has none to differ
        # The job's whole config, as a file.
        from mlflow import MlflowClient

        assert "config.json" in {a.path for a in MlflowClient().list_artifacts(job["run_id"])}
    assert "metrics.minority_f1_mean" not in runs  # one name per number
    assert "metrics.train_class1_std" not in runs  # spread only where it is read
    # Seed runs keep the whole config: the report pairs them on it.
    assert seeds["params.split.test_size"].notna().all()


@pytest.mark.slow
def test_report_html_is_one_offline_page_with_every_section(small_sweep):
    uri, sweep_dir = small_sweep
    page = sweep_dir / "report.html"
    p = parse(page)
    assert p.sections == list(SECTIONS)
    assert "Precision-recall curves" in p.h2 and "Confusion matrices" in p.h2
    # Every image inline; no script, stylesheet or link leaves the file.
    assert len(p.images) == 5 and all(s.startswith("data:image/png;base64,") for s in p.images)
    assert all(h.startswith("#") for h in p.links), p.links
    text = page.read_text()
    for name in ("brf trees=10", "naive", "synthetic", "fraud", "minority_f1", "p (Holm)"):
        assert name in text
    assert "No precision-recall data" not in text  # the seed runs' pr_curve.json were read
    # On the sweep run too.
    runs = _runs(uri)
    (sweep_id,) = runs.loc[runs["tags.run_level"] == "sweep", "run_id"]
    from mlflow import MlflowClient

    assert "report.html" in {a.path for a in MlflowClient().list_artifacts(sweep_id)}
