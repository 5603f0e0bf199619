"""Sweep-level bookkeeping: the sweep's parent run, failures, and the final ranges report.

Jobs may run in other processes (joblib launcher), so the sweep directory is the meeting point:
the first job to need the sweep run creates it under a file lock and writes its id there.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from imbsweep import cross_dataset, ranges, tracking

log = logging.getLogger(__name__)

RUN_ID_FILE = ".imbsweep_sweep_run"
FAILURES_FILE = "failures.jsonl"


@contextmanager
def locked(sweep_dir: Path) -> Iterator[None]:
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with open(sweep_dir / ".imbsweep.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def start(sweep_dir: Path, tracker: tracking.Tracker | None = None) -> None:
    """At sweep start: forget a previous sweep in the same directory; adopt `mlflow run`'s run.

    ``mlflow run`` passes its run in ``MLFLOW_RUN_ID``; it becomes the sweep run, and is removed
    from the environment so no job adopts it as its own.
    """
    with locked(sweep_dir):
        for name in (RUN_ID_FILE, FAILURES_FILE):
            (sweep_dir / name).unlink(missing_ok=True)
        project_run = os.environ.pop("MLFLOW_RUN_ID", None)
        if project_run and tracker is not None and tracker.enabled:
            adopt_run(tracker, project_run, sweep_name(), sweep_dir)
            (sweep_dir / RUN_ID_FILE).write_text(project_run)


def sweep_run_id(
    tracker: tracking.Tracker, sweep_dir: Path, name: str, tags: dict[str, str] | None = None
) -> str | None:
    """The sweep's run id, creating the run on first use (safe across processes)."""
    if not tracker.enabled:
        return None
    with locked(sweep_dir):
        f = sweep_dir / RUN_ID_FILE
        if f.exists():
            return f.read_text().strip()
        run_id = tracker.create_run(name, {tracking.TAG_LEVEL: "sweep", **(tags or {})})
        tracker.set_tags(run_id, {tracking.TAG_SWEEP: run_id, "sweep_dir": str(sweep_dir)})
        f.write_text(run_id)
        return run_id


def adopt_run(tracker: tracking.Tracker, run_id: str, name: str, sweep_dir: Path) -> None:
    """Turn `mlflow run`'s project run into a proper sweep run (name and tags)."""
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME

    tracker.set_tags(
        run_id,
        {
            tracking.TAG_LEVEL: "sweep",
            tracking.TAG_SWEEP: run_id,
            MLFLOW_RUN_NAME: name,
            "sweep_dir": str(sweep_dir),
            tracking.TAG_COMMIT: tracking.git_commit(),
        },
    )


def sweep_name(study: str | None = None) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    return f"study {study} {stamp}" if study else f"sweep {stamp}"


def record_failure(sweep_dir: Path, label: str, overrides: list[str], exc: BaseException) -> None:
    with locked(sweep_dir), open(sweep_dir / FAILURES_FILE, "a") as fh:
        fh.write(
            json.dumps(
                {"label": label, "overrides": overrides, "error": f"{type(exc).__name__}: {exc}"}
            )
            + "\n"
        )


def failures(sweep_dir: Path) -> list[dict]:
    f = sweep_dir / FAILURES_FILE
    if not f.exists():
        return []
    return [json.loads(line) for line in f.read_text().splitlines() if line.strip()]


def seed_rows(sweep_id: str, experiment_ids: list[str] | None = None) -> pd.DataFrame:
    """Finished, non-skipped seed runs of a sweep as one row each (metrics + identifying tags)."""
    import mlflow

    filt = (
        f"tags.{tracking.TAG_SWEEP} = '{sweep_id}' and "
        f"tags.{tracking.TAG_LEVEL} = 'seed' and attributes.status = 'FINISHED'"
    )
    runs = mlflow.search_runs(
        experiment_ids=experiment_ids,
        filter_string=filt,
        search_all_experiments=not experiment_ids,
        max_results=50000,
        order_by=["attributes.start_time ASC"],
    )
    if runs.empty:
        return pd.DataFrame()
    if "tags.skipped" in runs:
        runs = runs[runs["tags.skipped"].isna()]
    out = pd.DataFrame(
        {
            "run_id": runs["run_id"],
            "label": runs[f"tags.{tracking.TAG_LABEL}"],
            "method": runs[f"tags.{tracking.TAG_METHOD}"],
            "dataset": runs[f"tags.{tracking.TAG_DATASET}"],
            "stage": runs.get(f"tags.{tracking.TAG_STAGE}", "run"),
            "seed": runs[f"tags.{tracking.TAG_SEED}"].astype(int),
            "job_id": runs["tags.mlflow.parentRunId"],
            "overrides": runs.get(f"tags.{tracking.TAG_OVERRIDES}", ""),
        }
    )
    for col in runs.columns:
        if col.startswith("metrics."):
            out[col[len("metrics.") :]] = runs[col]
    out["label"] = distinct_labels(out)
    return out.reset_index(drop=True)


def distinct_labels(rows: pd.DataFrame) -> pd.Series:
    """Run labels, extended where different jobs share one (e.g. a sweep over method.epochs).

    A label names the method and its main settings; when two jobs of a sweep differ only in
    other keys, the overrides that differ are appended so their seeds are never pooled.
    """
    labels = rows["label"].copy()
    keys = [k for k in ("dataset", "stage", "label") if k in rows]
    for _, g in rows.groupby(keys, sort=False):
        if g["job_id"].nunique() < 2:
            continue
        per_job = {
            j: set(str(o).split())
            for j, o in zip(g["job_id"], g["overrides"].fillna(""), strict=True)
        }
        common = set.intersection(*per_job.values())
        for job, ovr in per_job.items():
            extra = " ".join(sorted(ovr - common)) or job[:8]
            labels[g.index[g["job_id"] == job]] = f"{g['label'].iloc[0]} [{extra}]"
    return labels


def report(
    rows: pd.DataFrame,
    out_dir: Path,
    claims: str | None,
    do_plot: bool = True,
    title: str = "Ranges over seeds",
) -> dict[str, Path]:
    """Write ranges.md / ranges.csv (and ranges.png) to ``out_dir``; print the Markdown.

    In a tuning sweep the result is the defaults next to the best parameters (same seeds, same
    splits); trials are how it got there, not the result, so they are left out of the table.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    final = rows[rows["stage"].isin(["default", "best"])]
    if not final.empty:
        title += ": defaults vs tuned"
        order = {"default": 0, "best": 1}
        rows = final.assign(label=final["stage"] + ": " + final["label"])
        rows = rows.sort_values("stage", key=lambda s: s.map(order), kind="stable")
    if rows["dataset"].nunique() > 1:
        rows = rows.sort_values("dataset", kind="stable")  # one block of methods per dataset
    summary = ranges.summarize(rows, ranges.load_claims(claims))
    md = f"## {title}\n\n{ranges.to_markdown(summary)}"
    files = {"ranges.md": out_dir / "ranges.md", "ranges.csv": out_dir / "ranges.csv"}
    if rows["dataset"].nunique() > 1 and rows["label"].nunique() > 1:
        # A benchmark across datasets: how the methods rank, the literature's summary table.
        metrics = [m for m in cross_dataset.REPORT_METRICS if m in rows]
        by_label = rows.assign(method=rows["label"])
        ranks, wtl = cross_dataset.cross_dataset_summary(by_label, metrics)
        md += "\n## Across datasets\n\n" + cross_dataset.to_markdown(ranks, wtl)
        files["ranks.csv"] = out_dir / "ranks.csv"
        files["win_tie_loss.csv"] = out_dir / "win_tie_loss.csv"
        ranks.to_csv(files["ranks.csv"])
        wtl.to_csv(files["win_tie_loss.csv"], index=False)
    files["ranges.md"].write_text(md)
    summary.to_csv(files["ranges.csv"], index=False)
    if do_plot and not rows.empty:
        files["ranges.png"] = ranges.plot(rows, out_dir / "ranges.png")
    print("\n" + md, flush=True)
    return files


def finish(
    tracker: tracking.Tracker,
    sweep_id: str | None,
    sweep_dir: Path,
    claims: str | None,
    do_plot: bool = True,
) -> list[dict]:
    """Build the sweep's table from MLflow, log it on the sweep run, close the run.

    Returns the recorded job failures (the caller decides how to exit).
    """
    failed = failures(sweep_dir)
    if not (tracker.enabled and sweep_id):
        return failed
    # What the table compared against, so `imbsweep-report` rebuilds the same table.
    tracker.set_tags(sweep_id, {"report_claims": claims or "none"})
    rows = seed_rows(sweep_id, [tracker.experiment_id])
    if rows.empty:
        log.warning("no finished seed runs in sweep %s: no table", sweep_id)
    else:
        files = report(rows, sweep_dir, claims, do_plot)
        for path in files.values():
            tracker.client.log_artifact(sweep_id, str(path))
        log.info("ranges table: %s (and on MLflow run %s)", files["ranges.md"], sweep_id)
    opt = sweep_dir / "optimization_results.yaml"
    if opt.exists():
        import yaml

        tracker.client.log_artifact(sweep_id, str(opt))
        best = (yaml.safe_load(opt.read_text()) or {}).get("best_params") or {}
        tracker.log_params(sweep_id, {f"best.{k}": v for k, v in best.items()})
    if failed:
        tracker.set_tags(sweep_id, {"failed_jobs": json.dumps([f["label"] for f in failed])})
    tracker.end_run(sweep_id, "FAILED" if failed else "FINISHED")
    return failed
