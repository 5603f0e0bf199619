"""The sweep run's own records: adopting `mlflow run`'s run, and closing the run with its table.

The sweep driver (:mod:`imbsweep.driver`) owns the sweep run; these are the pieces it and the
tuning hooks (:mod:`imbsweep.tuning`) share.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from imbsweep import stopped_units, tracking, ui_view
from imbsweep.report import report, seed_rows

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


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


def finish(
    tracker: tracking.Tracker,
    sweep_id: str | None,
    sweep_dir: Path,
    claims: str | None,
    do_plot: bool = True,
    failed: list[dict] | None = None,
    rows: pd.DataFrame | None = None,
    predictions: dict | None = None,
    metric: str = "minority_f1",
) -> list[dict]:
    """Build the sweep's table from MLflow, log it on the sweep run, close the run.

    ``failed``: the failures the driver collected (``label`` and ``error`` each). Returns them
    (the caller decides how to exit). ``rows``: the sweep's seed rows when the caller has just
    read them (:func:`imbsweep.report.seed_rows`, ~3.5 s for 1,400 runs).
    """
    failed = failed or []
    if not (tracker.enabled and sweep_id):
        return failed
    # What the table compared against, so `imbsweep-report` rebuilds the same table.
    tracker.set_tags(sweep_id, {"report_claims": claims or "none", "report_metric": metric})
    if rows is None:
        rows = seed_rows(sweep_id, [tracker.experiment_id])
    if rows.empty:
        log.warning("no finished seed runs in sweep %s: no table", sweep_id)
    else:
        unfinished = stopped_units.unfinished_rows(sweep_id, [tracker.experiment_id])
        files = report(
            rows,
            sweep_dir,
            claims,
            do_plot,
            predictions=predictions,
            metric=metric,
            unfinished=unfinished,
        )
        for path in files.values():
            tracker.client.log_artifact(sweep_id, str(path))
        # What a person opens first, first; every file is also on the sweep's MLflow run.
        page = files.get("report.html", files["ranges.md"])
        tables = ", ".join(p.name for k, p in files.items() if k.endswith((".md", ".csv")))
        # The runs page opened on the answer: headline columns, best first (imbsweep.ui_view).
        ui_view.record_best(tracker, sweep_id, rows, metric)
        ui_view.set_view(tracker.client, tracker.experiment_id, metric)
        log.info(
            "report: %s\n  tables in %s: %s\n  the same files on MLflow run %s; in the UI "
            "(make ui): %s",
            page,
            page.parent,
            tables,
            sweep_id,
            ui_view.runs_url(tracker.experiment_id),
        )
    opt = sweep_dir / "optimization_results.yaml"
    if opt.exists():
        import yaml

        tracker.client.log_artifact(sweep_id, str(opt))
        best = (yaml.safe_load(opt.read_text()) or {}).get("best_params") or {}
        tracker.log_params(sweep_id, {f"best.{k}": v for k, v in best.items()})
    if failed:
        labels = sorted({f["label"] for f in failed})
        tracker.set_tags(sweep_id, {"failed_jobs": json.dumps(labels)[:5000]})
    tracker.end_run(sweep_id, "FAILED" if failed else "FINISHED")
    return failed
