"""Sweep-level bookkeeping: the sweep's parent run, failures, and the final ranges report.

Jobs may run in other processes (joblib launcher), so the sweep directory is the meeting point:
the first job to need the sweep run creates it under a file lock and writes its id there.
"""

from __future__ import annotations

import fcntl
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from imbsweep import project_run, tracking
from imbsweep.report import report, seed_rows

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

    ``mlflow run`` passes its run in ``MLFLOW_RUN_ID``; it becomes the sweep run if it is in
    imbsweep's experiment, else a pointer to it (``project_run``). The variable is removed from
    the environment so no job adopts it as its own.
    """
    project_run.claim_owner()
    with locked(sweep_dir):
        for name in (RUN_ID_FILE, FAILURES_FILE, project_run.PENDING_FILE):
            (sweep_dir / name).unlink(missing_ok=True)
        project = project_run.take()
        if project and tracker is not None and tracker.enabled:
            if project_run.adoptable(tracker.client, project, tracker.experiment_id):
                _close_stale(tracker)
                adopt_run(tracker, project, sweep_name(), sweep_dir)
                (sweep_dir / RUN_ID_FILE).write_text(project)
            else:  # in another experiment: linked to the sweep run once that exists
                project_run.remember(sweep_dir, project)


def _close_stale(tracker: tracking.Tracker) -> None:
    ids = [tracker.experiment_id, project_run.DEFAULT_EXPERIMENT_ID]
    try:
        project_run.close_stale_runs(tracker.client, ids, tracking.PROJECT_ROOT)
    except Exception as exc:  # housekeeping must not stop a sweep
        log.warning("could not close stale runs: %s", exc)


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
        _close_stale(tracker)
        tags = {tracking.TAG_LEVEL: "sweep", **project_run.owner_tags(), **(tags or {})}
        run_id = tracker.create_run(name, tags)
        tracker.set_tags(run_id, {tracking.TAG_SWEEP: run_id, "sweep_dir": str(sweep_dir)})
        project_run.link_pending(tracker.client, sweep_dir, run_id, tracker.experiment_id)
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
            **project_run.owner_tags(),
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
