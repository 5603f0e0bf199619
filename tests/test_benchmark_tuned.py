"""sweeps=benchmark_tuned: nested tuning (trials see only their outer fold's training rows),
one study per dataset x method x outer fold with the same budget, default and tuned rows in the
table, and a killed run resumed without redoing what finished."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest
from conftest import BIN, ROOT, communicate, compose_cfg, run_cli

from imbsweep import tracking
from imbsweep.data import kfold_rows, outer_training_rows, split_dataset
from imbsweep.datasets import Dataset, load_dataset
from imbsweep.errors import ConfigError
from imbsweep.runner import run_job

NESTED = ["sweeps=benchmark_tuned", "split.folds=2", "split.inner_folds=2", "seeds=[0]"]


def _trial_cfg(outer_fold: int, method: str = "brf") -> dict:
    return compose_cfg(
        [
            *NESTED,
            f"method={method}",
            "dataset.name=new_thyroid1",
            "method.n_estimators=10",
            "stage=trial",
            f"split.outer_fold={outer_fold}",
        ]
    )


def test_a_trial_never_sees_its_outer_test_rows():
    """A trial's inner folds split exactly its outer fold's training rows. Changing the outer
    test rows leaves every trial value unchanged; changing an outer training row does not."""
    cfg = _trial_cfg(0)
    ds = load_dataset(cfg["dataset"])
    idx = np.arange(len(ds.y))
    outer_test = kfold_rows(ds, idx, cfg["split"], 0)[0]
    outer_train = outer_training_rows(ds, idx, cfg["split"], 0)
    assert len(np.intersect1d(outer_test, outer_train)) == 0
    assert len(outer_test) + len(outer_train) == len(ds.y)
    inner_tests = []
    for fold in range(2):
        s = split_dataset(ds, cfg["split"], 0, "trial", fold)
        assert np.isin(np.concatenate([s.train, s.test]), outer_train).all()
        assert len(s.train) + len(s.test) == len(outer_train)
        inner_tests.append(s.test)
    assert sorted(np.concatenate(inner_tests)) == sorted(outer_train)  # a partition

    rng = np.random.default_rng(0)

    def changed(rows: np.ndarray) -> Dataset:
        X = ds.X.copy()
        # Labels kept: they draw the stratified folds, which must stay the same folds.
        X.iloc[rows] = rng.normal(size=(len(rows), X.shape[1]))
        return Dataset(ds.name, X, ds.y)

    off = tracking.Tracker(enabled=False)

    def values(data: Dataset) -> list[float]:
        # What the study optimises: the repeat's pooled inner-fold metrics.
        return [m["minority_f1"] for m in run_job(cfg, off, dataset=data).metrics]

    base = values(ds)
    assert len(base) == 1 and base[0] > 0
    assert values(changed(outer_test)) == base
    assert values(changed(outer_train[:40])) != base


def test_nested_settings_are_checked():
    def check(overrides: list[str], key: str) -> None:
        cfg = compose_cfg([*NESTED, "dataset.name=new_thyroid1", *overrides])
        with pytest.raises(ConfigError, match=key):
            run_job(cfg, tracking.Tracker(enabled=False))

    check(["stage=trial"], "split.outer_fold")  # a trial must say which outer fold
    check(["split.inner_folds=1"], "split.inner_folds")
    check(["split.inner_folds=0", "stage=tuned"], "stage")
    check(["split.inner_folds=0", "split.outer_fold=1"], "split.outer_fold")
    check(["split.protocol=holdout"], "split.inner_folds")


def _complete_trials(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as con:
            return con.execute("select count(*) from trials where state = 'COMPLETE'").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_benchmark_tuned_end_to_end_killed_and_resumed(tmp_path):
    """2 KEEL sets x 2 methods x 3 trials, 2 outer folds x 1 repeat, 2 inner folds.

    Killed (SIGKILL, the whole process group) once some trials have finished, then run again:
    nothing that finished runs again, every study ends with exactly 3 trials, and the table has
    a default and a tuned row per dataset x method.
    """
    db, odb, sweep_dir = tmp_path / "mlflow.db", tmp_path / "optuna.db", tmp_path / "sweep"
    uri = f"sqlite:///{db}"
    args = [
        "imbsweep",
        "sweeps=benchmark_tuned",
        "dataset.name=new_thyroid1,ecoli1",
        "method=rf,brf",
        "tuning.trials=3",
        "split.folds=2",
        "split.inner_folds=2",
        "seeds=1",
        "++method.search_space.n_estimators='int(interval(5, 20))'",
        f"hydra.sweeper.storage=sqlite:///{odb}",
        f"hydra.sweep.dir={sweep_dir}",
        "hydra.launcher.n_workers=2",
        "tracking.log_models=false",
        "report.plot=false",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(MLFLOW_TRACKING_URI=uri, PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    src = str(ROOT / "src")  # this checkout's code, whatever the working directory
    env["PYTHONPATH"] = src
    env["PYTHONFAULTHANDLER"] = "1"
    t0 = time.time()
    first = subprocess.Popen(
        args,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + 300
    while _complete_trials(odb) < 6 and time.time() < deadline and first.poll() is None:
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)  # the driver and its Dask workers
    out, err = communicate(first, 60)
    n_before = _complete_trials(odb)
    assert 6 <= n_before < 24, f"the kill must land mid-benchmark:\n{(out + err)[-3000:]}"

    mlflow.set_tracking_uri(uri)
    before = mlflow.search_runs(search_all_experiments=True, max_results=50000)
    finished = set(
        before.loc[
            (before["tags.run_level"] == "seed") & (before["status"] == "FINISHED"), "run_id"
        ]
    )
    storage = optuna.storages.RDBStorage(f"sqlite:///{odb}")
    trials = {
        s.study_name: optuna.load_study(study_name=s.study_name, storage=storage).trials
        for s in optuna.get_all_study_summaries(storage)
    }
    told = {
        (n, t.number): t.value for n, ts in trials.items() for t in ts if t.state.name == "COMPLETE"
    }
    cut = {  # killed after its settings were drawn (before, there is nothing to ask again)
        (n, t.number)
        for n, ts in trials.items()
        for t in ts
        if t.state.name == "RUNNING" and t.params
    }

    p = run_cli(args, tmp_path, uri, 600, PYTHONPATH=src)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    print(f"killed after {n_before} trials; both runs: {time.time() - t0:.0f} s wall")

    # One study per dataset x method x outer fold, each with exactly its 3 trials.
    summaries = optuna.get_all_study_summaries(storage)
    assert len(summaries) == 2 * 2 * 2
    for s in summaries:
        trials = optuna.load_study(study_name=s.study_name, storage=storage).trials
        counted = [t for t in trials if t.state.name == "COMPLETE" or t.user_attrs.get("counted")]
        assert len(counted) == 3, (s.study_name, [(t.number, t.state.name) for t in trials])
        for t in trials:  # what finished before the kill is kept as it was
            if (s.study_name, t.number) in told:
                assert t.state.name == "COMPLETE" and t.value == told[s.study_name, t.number]

    # A trial the kill cut short is asked again with its params (its finished units reused).
    retried = {
        (s.study_name, t.user_attrs["retry_of"])
        for s in summaries
        for t in optuna.load_study(study_name=s.study_name, storage=storage).trials
        if "retry_of" in t.user_attrs
    }
    assert cut <= retried, (cut, retried)
    print(f"{len(cut)} trial(s) cut short by the kill, asked again")

    runs = mlflow.search_runs(search_all_experiments=True, max_results=50000)
    done = runs[(runs["tags.run_level"] == "seed") & (runs["status"] == "FINISHED")]
    # Nothing that finished ran again: its run is kept, and no unit has a second run.
    assert finished <= set(done["run_id"])
    assert not done.duplicated(["tags.job_key", "tags.stage", "tags.seed", "tags.fold"]).any()
    assert (runs["status"] != "RUNNING").all()
    trial_units = done[done["tags.stage"] == "trial"]
    assert trial_units["params.split.outer_fold"].notna().all()
    print(
        f"units: {len(done)} finished ({len(trial_units)} of trials); "
        f"{len(finished)} before the kill, {len(done) - len(finished)} after"
    )

    table = pd.read_csv(sweep_dir / "ranges.csv")
    for data in ("new_thyroid1", "ecoli1"):
        labels = set(table.loc[table["dataset"] == data, "label"])
        assert labels == {
            "default: rf trees=100",
            "tuned: rf@tuned",
            "default: brf trees=100",
            "tuned: brf@tuned",
        }, labels
    assert (table["n_units"] == 2).all(), table.to_string()
    paired = pd.read_csv(sweep_dir / "paired.csv")
    pairs = set(zip(paired["method"], paired["opponent"], strict=True))
    assert pairs & {
        ("default: rf trees=100", "tuned: rf@tuned"),
        ("tuned: rf@tuned", "default: rf trees=100"),
    }
    studies = pd.read_csv(sweep_dir / "studies.csv")
    assert len(studies) == 8 and (studies["trials_counted"] == 3).all()
