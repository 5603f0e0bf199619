"""Optuna tuning sweeps through imbsweep: study -> trial -> seed runs, resume, honest objective."""

from __future__ import annotations

import mlflow
import numpy as np
import optuna
import pytest
import yaml
from conftest import SMALL, compose_cfg, run_cli

from imbsweep import tracking
from imbsweep.data import Dataset, holdout_rows, load_dataset, split_dataset
from imbsweep.runner import run_job


def tune_args(tmp_path, n_trials: int) -> list[str]:
    return [
        "imbsweep",
        "sweeps=tune_brf",
        f"hydra.sweeper.n_trials={n_trials}",
        "seeds=2",
        *SMALL,
        "method.n_estimators=int(interval(5, 40))",
        f"hydra.sweeper.storage=sqlite:///{tmp_path / 'optuna.db'}",
        "tuning.final_seeds=3",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]


@pytest.mark.slow
def test_small_study_end_to_end_then_resume(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    p = run_cli(tune_args(tmp_path, 2), tmp_path, uri)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    study = optuna.load_study(study_name="tune_brf", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 2
    first = [(t.params, t.value) for t in done]

    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    (study_run,) = [r for r in runs if r.data.tags["run_level"] == "sweep"]
    assert study_run.info.run_name.startswith("study tune_brf")
    jobs = [r for r in runs if r.data.tags["run_level"] == "job"]
    trials = [j for j in jobs if j.data.tags["stage"] == "trial"]
    assert len(trials) == 2 and {j.data.tags["stage"] for j in jobs} == {"trial", "best", "default"}
    for t in trials:  # trial runs carry the sampled params and the objective
        assert t.data.tags["mlflow.parentRunId"] == study_run.info.run_id
        assert "method.n_estimators" in t.data.params and "objective" in t.data.metrics
    values = sorted(t.data.metrics["objective"] for t in trials)
    assert values == pytest.approx(sorted(v for _, v in first))
    best = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    assert best["best_params"] == study.best_params
    assert study_run.data.params["best.method.n_estimators"] == str(
        study.best_params["method.n_estimators"]
    )
    table = (tmp_path / "sweep" / "ranges.md").read_text()
    assert "| default: brf trees=100 | 3 |" in table
    assert f"| best: brf trees={study.best_params['method.n_estimators']} | 3 |" in table
    page = (tmp_path / "sweep" / "report.html").read_text()  # the final table, on one page
    assert "defaults vs tuned" in page and "default: brf trees=100" in page
    # Same seeds and splits for both final jobs.
    finals = [
        r
        for r in runs
        if r.data.tags["run_level"] == "seed" and r.data.tags["stage"] in ("best", "default")
    ]
    assert sorted(r.data.tags["seed"] for r in finals) == ["0", "0", "1", "1", "2", "2"]
    # ... on outer splits that vary, with test rows from the share the study never saw
    for r in finals:
        assert r.data.params["split.holdout"] == "0.4"
        assert r.data.params["split.vary_with_seed"] == "True"
        assert r.data.metrics["test_class0"] + r.data.metrics["test_class1"] == 200
    assert "optimistic" in best["best_value_is"]
    assert "## Best vs default, paired" in table
    assert "corrected resampled t (Nadeau & Bengio 2003, held-out test rows)" in table
    # One pair row, the better setting first (rows follow the headline metric).
    starts = ("| default: brf trees=100 vs best: brf", "| best: brf trees=")
    pair = [ln for ln in table.splitlines() if " vs " in ln and ln.startswith(starts)]
    assert len(pair) == 1 and "| 3 |" in pair[0]
    assert "optimistic maximum over trials" in table
    assert "each seed drew its own test rows from the held-out share" in table
    # the table is on the study's sweep run too
    client = mlflow.tracking.MlflowClient(uri)
    names = {a.path for a in client.list_artifacts(study_run.info.run_id)}
    assert {"ranges.md", "paired.csv"} <= names

    # Same command, more trials: the study resumes; finished trials are kept, not redone.
    p = run_cli(tune_args(tmp_path, 3), tmp_path, uri)
    assert p.returncode == 0, p.stderr[-3000:]
    study = optuna.load_study(study_name="tune_brf", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 3 and [(t.params, t.value) for t in done[:2]] == first


@pytest.mark.slow
def test_bad_search_space_fails_at_start(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = tune_args(tmp_path, 2)
    args[args.index("method.n_estimators=int(interval(5, 40))")] = (
        "method.n_estimators=tag(log, int(interval(0, 40)))"
    )
    p = run_cli(args, tmp_path, uri)
    assert p.returncode != 0
    assert "method.n_estimators" in p.stderr and "log" in p.stderr
    assert not (tmp_path / "optuna.db").exists() and not (tmp_path / "mlflow.db").exists()


@pytest.mark.slow
def test_tuning_without_a_validation_split_is_refused_at_start(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    p = run_cli([*tune_args(tmp_path, 2), "split.validation_size=0"], tmp_path, uri)
    assert p.returncode != 0
    assert "split.validation_size=0.0 is not valid" in p.stderr
    assert "never on the test set" in p.stderr
    assert not (tmp_path / "optuna.db").exists()


def test_objective_ignores_the_test_rows():
    """Changing only the test rows changes test metrics, never the validation objective."""
    cfg = compose_cfg(
        [
            "method=brf",
            "seeds=[0,1]",
            "split.validation_size=0.25",
            "stage=trial",
            "split.vary_with_seed=false",
            "split.stratify=false",  # the split must not depend on the flipped labels
            *SMALL,
        ]
    )
    ds = load_dataset(cfg["dataset"])
    split = split_dataset(ds, cfg["split"], 0)
    X, y = ds.X.copy(), ds.y.copy()
    rng = np.random.default_rng(1)
    X.iloc[split.test] = rng.normal(size=(len(split.test), X.shape[1]))
    y[split.test] = 1 - y[split.test]
    other = Dataset(ds.name, X, y)
    off = tracking.Tracker(enabled=False)
    a, b = run_job(cfg, off, dataset=ds), run_job(cfg, off, dataset=other)
    assert a.objective("minority_f1", "mean", "validation") == b.objective(
        "minority_f1", "mean", "validation"
    )
    assert a.objective("minority_f1", "mean", "test") != b.objective("minority_f1", "mean", "test")
    assert [m["val_minority_f1"] for m in a.metrics] == [m["val_minority_f1"] for m in b.metrics]


def test_final_test_rows_were_never_seen_by_the_study():
    """tune_*: trials split only the tuning rows; every final outer split tests on held-out rows.

    Changing the held-out rows leaves every trial value unchanged (the study never saw them)
    but changes the final table; changing a tuning row changes the trial values.
    """
    trial = compose_cfg(["sweeps=tune_brf", "stage=trial", "seeds=[0,1,2]", *SMALL])
    final = compose_cfg(["sweeps=tune_brf", "stage=best", "seeds=[0,1,2]", *SMALL])
    assert trial["split"]["vary_with_seed"] and trial["split"]["holdout"] == 0.4
    ds = load_dataset(trial["dataset"])
    held = holdout_rows(ds, trial["split"])
    assert len(held) == 400 and ds.y[held].sum() > 0
    tests = []
    for seed in range(5):
        t = split_dataset(ds, trial["split"], seed, "trial")
        assert not np.isin(np.concatenate([t.train, t.test, t.validation]), held).any()
        f = split_dataset(ds, final["split"], seed, "best")
        assert np.isin(f.test, held).all() and len(f.test) == 200
        assert len(np.intersect1d(f.train, f.test)) == 0
        assert len(f.train) + len(f.test) + len(f.validation) == 1000
        tests.append(tuple(f.test))
    assert len(set(tests)) == 5  # the outer split varies with the seed

    rng = np.random.default_rng(0)

    def changed(rows: np.ndarray) -> Dataset:
        X = ds.X.copy()
        X.iloc[rows] = rng.normal(size=(len(rows), X.shape[1]))  # labels kept: same partition
        return Dataset(ds.name, X, ds.y)

    off = tracking.Tracker(enabled=False)
    tuning_rows = np.setdiff1d(np.arange(1000), held)

    def trial_values(data: Dataset) -> list[float]:
        return [m["val_minority_f1"] for m in run_job(trial, off, dataset=data).metrics]

    base = trial_values(ds)
    assert trial_values(changed(held)) == base
    assert trial_values(changed(tuning_rows[:300])) != base
    a, b = run_job(final, off, dataset=ds), run_job(final, off, dataset=changed(held))
    assert [m["minority_f1"] for m in a.metrics] != [m["minority_f1"] for m in b.metrics]


def test_varying_final_splits_without_held_out_rows_are_refused():
    from imbsweep.errors import ConfigError

    for stage in ("trial", "best", "default"):
        cfg = compose_cfg(["sweeps=tune_brf", f"stage={stage}", "split.holdout=0"])
        with pytest.raises(ConfigError, match="split.holdout > 0"):
            run_job(cfg, tracking.Tracker(enabled=False))
    cfg = compose_cfg(["sweeps=tune_brf", "split.holdout=0.2"])
    with pytest.raises(ConfigError, match="split.holdout=0.2 is not valid"):
        run_job(cfg, tracking.Tracker(enabled=False))


def test_robust_objective_is_mean_minus_std():
    cfg = compose_cfg(["method=naive", "seeds=2", "split.validation_size=0.25", *SMALL])
    r = run_job(cfg, tracking.Tracker(enabled=False))
    r.metrics = [{"val_minority_f1": 0.5}, {"val_minority_f1": 0.7}]
    assert r.objective("minority_f1", "mean", "validation") == pytest.approx(0.6)
    # The sample std (ddof=1), as every table: 0.6 - 0.1 * sqrt(2).
    assert r.objective("minority_f1", "mean_minus_std", "validation") == pytest.approx(
        0.6 - 0.1 * 2**0.5
    )


@pytest.mark.slow
def test_parallel_trials_through_joblib_lose_and_duplicate_nothing(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = [
        *tune_args(tmp_path, 4),
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.hooks.finalize=false",
    ]
    p = run_cli(args, tmp_path, uri)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    study = optuna.load_study(study_name="tune_brf", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 4
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    # A trial is a job of the sweep: its identity is its settings, so a trial that repeats an
    # earlier one's params reuses its units and job run (named by the first trial's number).
    jobs = [r for r in runs if r.data.tags["run_level"] == "job"]
    distinct = {t.params["method.n_estimators"] for t in study.trials}
    assert len(jobs) == len(distinct)
    first = {}
    for t in study.trials:
        first.setdefault(t.params["method.n_estimators"], t.number)
    assert sorted(int(r.data.tags["optuna_trial"]) for r in jobs) == sorted(first.values())
    assert len([r for r in runs if r.data.tags["run_level"] == "sweep"]) == 1
    assert len([r for r in runs if r.data.tags["run_level"] == "seed"]) == 2 * len(distinct)
    by_trees = {
        int(r.data.params["method.n_estimators"]): r.data.metrics["objective"] for r in jobs
    }
    for t in study.trials:
        assert t.value == pytest.approx(by_trees[t.params["method.n_estimators"]])


@pytest.mark.slow
def test_seeds_cannot_be_tuned(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    p = run_cli([*tune_args(tmp_path, 2), "seeds=int(interval(1, 5))"], tmp_path, uri)
    assert p.returncode != 0 and "seeds: not a tunable parameter" in p.stderr
    assert not (tmp_path / "optuna.db").exists()


@pytest.mark.slow
def test_an_aborted_study_still_closes_its_mlflow_run(tmp_path):
    # sampling_strategy=0.01 is valid but SMOTE cannot reach it here: every trial fails, and the
    # default max_failure_rate=0 aborts the study after the first batch.
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = [
        a.replace("tune_brf", "tune_smote_ann")
        for a in tune_args(tmp_path, 2)
        if not a.startswith("method.n_estimators")
    ]
    p = run_cli([*args, "method.sampling_strategy=0.01"], tmp_path, uri)
    assert p.returncode != 0 and "max_failure_rate" in p.stderr
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert {r.data.tags["run_level"]: r.info.status for r in runs} == {
        "sweep": "FAILED",
        "job": "FAILED",
        "seed": "FAILED",
    }


def pareto_args(tmp_path, n_trials: int) -> list[str]:
    return [
        "imbsweep",
        "sweeps=tune_brf_pr",
        f"hydra.sweeper.n_trials={n_trials}",
        "seeds=2",
        *SMALL,
        "method.n_estimators=int(interval(5, 40))",
        f"hydra.sweeper.storage=sqlite:///{tmp_path / 'optuna.db'}",
        "tuning.final_seeds=2",
        "report.plot=false",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]


@pytest.mark.slow
def test_multi_objective_recall_precision_study_reruns_each_pareto_setting(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    p = run_cli(pareto_args(tmp_path, 4), tmp_path, uri)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    study = optuna.load_study(
        study_name="tune_brf_pr", storage=f"sqlite:///{tmp_path / 'optuna.db'}"
    )
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MAXIMIZE"]
    res = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    front = res["solutions"]
    assert {s["number"] for s in front} == {t.number for t in study.best_trials}
    for a in front:  # maximising both: none is at least as good everywhere and better somewhere
        for b in front:
            assert not (
                all(x >= y for x, y in zip(a["values"], b["values"], strict=True))
                and a["values"] != b["values"]
            )

    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    jobs = [r for r in runs if r.data.tags["run_level"] == "job"]
    trials = {int(j.data.tags["optuna_trial"]): j for j in jobs if j.data.tags["stage"] == "trial"}
    for t in study.trials:  # each trial run carries both objectives, as told to the study
        m = trials[t.number].data.metrics
        assert [m["objective.minority_recall"], m["objective.minority_precision"]] == (
            pytest.approx(t.values)
        )
    # every Pareto-optimal setting, and the defaults, re-run over the final seeds
    best = [j for j in jobs if j.data.tags["stage"] == "best"]
    assert len(best) == len(front)
    assert sorted(float(j.data.params["method.threshold"]) for j in best) == pytest.approx(
        sorted(s["params"]["method.threshold"] for s in front)
    )
    assert len([j for j in jobs if j.data.tags["stage"] == "default"]) == 1
    # The ranges table only: the paired comparisons below it name the same rows again.
    table = (tmp_path / "sweep" / "ranges.md").read_text().split("\n## ")[0]
    table = table.split("\nThreshold-free")[0]  # the practical's four metrics' table only
    assert sum(line.startswith("| best: brf trees=") for line in table.splitlines()) == len(front)
    assert "| default: brf trees=100 | 2 |" in table


@pytest.mark.slow
def test_objective_count_must_match_the_directions(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    p = run_cli([*pareto_args(tmp_path, 2), "hydra.sweeper.direction=maximize"], tmp_path, uri)
    assert p.returncode != 0
    assert "gives 2 value(s) but hydra.sweeper.direction=['maximize'] asks for 1" in p.stderr
    assert not (tmp_path / "optuna.db").exists()


def finished_seed_runs(db) -> int:
    """FINISHED seed runs in an MLflow sqlite store, read-only (the driver may be writing)."""
    import sqlite3
    from contextlib import closing

    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
            return con.execute(
                "SELECT count(*) FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid WHERE "
                "t.key = 'run_level' AND t.value = 'seed' AND r.status = 'FINISHED'"
            ).fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


@pytest.mark.slow
def test_a_killed_study_reuses_its_finished_units_on_the_next_run(tmp_path):
    import os
    import subprocess
    import time

    from conftest import BIN

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = [
        str(BIN / "imbsweep"),
        *tune_args(tmp_path, 2)[1:],
        "seeds=6",
        "hydra.sweeper.hooks.finalize=false",
        "hydra.launcher.n_workers=1",  # units one by one: the kill lands mid-trial
        "hydra.sweeper.heartbeat_interval=1",
        "hydra.sweeper.grace_period=2",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_TRACKING_URI"] = uri
    first = subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 300
        while finished_seed_runs(tmp_path / "mlflow.db") < 2:
            assert time.monotonic() < deadline and first.poll() is None, "no unit finished"
            time.sleep(0.3)
    finally:
        first.kill()  # SIGKILL: nothing of the driver's cleanup runs
        first.wait(timeout=30)
    before = finished_seed_runs(tmp_path / "mlflow.db")
    assert before < 6  # killed inside the first trial
    time.sleep(3)  # its heartbeat ages past the grace period

    p = run_cli(args, tmp_path, uri)
    assert p.returncode == 0, p.stderr[-3000:]
    out = p.stdout + p.stderr
    assert "asked again" in out and f"{before} of 6 units reused" in out
    study = optuna.load_study(study_name="tune_brf", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    states = [t.state.name for t in study.trials]
    assert states == ["FAIL", "COMPLETE", "COMPLETE"]
    assert study.trials[1].params == study.trials[0].params  # the killed trial, asked again
    # Each unit finished once: 6 per distinct setting, none run twice.
    distinct = {t.params["method.n_estimators"] for t in study.trials}
    assert finished_seed_runs(tmp_path / "mlflow.db") == 6 * len(distinct)


@pytest.mark.slow
def test_sigterm_stops_a_study_with_its_runs_killed_not_left_running(tmp_path):
    import signal
    import sqlite3
    import subprocess
    import time
    from contextlib import closing

    from conftest import BIN

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = [
        str(BIN / "imbsweep"),
        *tune_args(tmp_path, 3)[1:],
        "seeds=6",
        "hydra.sweeper.hooks.finalize=false",
        "hydra.launcher.n_workers=1",  # units one by one: the signal lands mid-trial
    ]
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_TRACKING_URI"] = uri
    p = subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 300
    while finished_seed_runs(tmp_path / "mlflow.db") < 2:
        assert time.monotonic() < deadline and p.poll() is None, "no unit finished"
        time.sleep(0.3)
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=120)
    assert p.returncode != 0
    assert "run the same command again" in out, out[-3000:]
    with closing(sqlite3.connect(f"file:{tmp_path / 'mlflow.db'}?mode=ro", uri=True)) as con:
        states = dict(con.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall())
        sweep = con.execute(
            "SELECT r.status FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
            "WHERE t.key = 'run_level' AND t.value = 'sweep'"
        ).fetchall()
    assert "RUNNING" not in states, states
    assert sweep == [("KILLED",)]
