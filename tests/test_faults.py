"""Faults a long sweep meets: a worker process killed mid-unit, a unit over its time or memory
limit. Real local Dask clusters and real sqlite MLflow stores; the slow, hanging and hungry units
come from tests/fault_helpers.py, which the workers preload."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from conftest import ROOT, run_cli

from imbsweep import unit_guard

HELPERS = [
    "hydra.launcher.preload=[imbsweep.app,fault_helpers]",
    "hydra.launcher.n_workers=2",
    "report.plot=false",
]


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", str(ROOT / "src"))])
    return {"PYTHONPATH": path, **extra}


def _runs(uri: str) -> pd.DataFrame:
    mlflow.set_tracking_uri(uri)
    return mlflow.search_runs(search_all_experiments=True, max_results=50000)


def _finished_seed_runs(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as con:
            return con.execute(
                "select count(*) from runs r join tags t on r.run_uuid = t.run_uuid "
                "where t.key = 'run_level' and t.value = 'seed' and r.status = 'FINISHED'"
            ).fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_a_worker_killed_mid_unit_loses_and_doubles_nothing(tmp_path):
    import subprocess

    from conftest import BIN

    db, marks, sweep_dir = tmp_path / "mlflow.db", tmp_path / "marks", tmp_path / "sweep"
    marks.mkdir()
    uri = f"sqlite:///{db}"
    args = [
        "imbsweep",
        "method=naive,brf,logreg_balanced",
        "seeds=6",
        "dataset.n_samples=1000",
        *HELPERS,
        f"hydra.sweep.dir={sweep_dir}",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(
        MLFLOW_TRACKING_URI=uri,
        PATH=f"{BIN}:{os.environ.get('PATH', '')}",
        # Every fit takes >= 1 s, so the kill lands inside a unit.
        **_env(IMBSWEEP_TEST_MARKS=str(marks), IMBSWEEP_TEST_FIT_SLEEP="1.0"),
    )
    proc = subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    killed = None
    deadline = time.time() + 240
    while killed is None and time.time() < deadline and proc.poll() is None:
        fitting = list(marks.glob("fit-*"))
        if _finished_seed_runs(db) >= 4 and fitting:
            killed = int(fitting[0].name.split("-")[1])
            os.kill(killed, signal.SIGKILL)  # a worker process, in the middle of a fit
        time.sleep(0.1)
    out = proc.communicate(timeout=300)[0]
    assert killed is not None, "the kill must land mid-sweep: " + out[-3000:]
    assert proc.returncode == 0, out[-3000:]

    runs = _runs(uri)
    seeds = runs[runs["tags.run_level"] == "seed"]
    done = seeds[seeds["status"] == "FINISHED"]
    # Exactly one finished run per unit: none lost, none run twice.
    assert len(done) == 18
    assert not done.duplicated(["tags.job_key", "tags.seed"]).any()
    # The unit the killed worker was running: its half-written run closed KILLED with the reason,
    # and the unit finished on another worker process.
    on_killed = seeds[seeds["tags.imbsweep.worker"].str.endswith(f":{killed}")]
    half = on_killed[on_killed["status"] != "FINISHED"]
    assert len(half) == 1, on_killed[["status", "tags.seed"]].to_string()
    half = half.iloc[0]
    assert half["status"] == "KILLED"
    assert f":{killed}) died while the unit ran" in half["tags.killed_reason"]
    same = (done["tags.job_key"] == half["tags.job_key"]) & (done["tags.seed"] == half["tags.seed"])
    assert same.sum() == 1
    assert not done.loc[same, "tags.imbsweep.worker"].iloc[0].endswith(f":{killed}")
    assert (runs["status"] != "RUNNING").all()
    (sweep_run,) = runs[runs["tags.run_level"] == "sweep"].itertuples()
    assert sweep_run.status == "FINISHED"
    # The table is complete: every method over its 6 seeds.
    table = pd.read_csv(sweep_dir / "ranges.csv")
    assert table["label"].nunique() == 3 and (table["n_seeds"] == 6).all(), table.to_string()
