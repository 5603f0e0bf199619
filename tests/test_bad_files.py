"""Odd files users really have: each loads, or every entry point gives one plain message.

The corpus is written on the fly (tests/bad_files.py). Through the CLI: no traceback, one
message, exit status 2, nothing in MLflow.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bad_files import ODD_FILES, frame
from conftest import run_cli

from imbsweep.data import load_dataset
from imbsweep.errors import ConfigError

LOADS = [c for c, (_, _, match) in ODD_FILES.items() if match is None]
FAILS = [c for c, (_, _, match) in ODD_FILES.items() if match is not None]


def _write(case: str, d: Path) -> tuple[Path, dict, str | None]:
    write, extra, match = ODD_FILES[case]
    return d / write(d), extra, match


@pytest.mark.parametrize("case", LOADS)
def test_odd_file_loads_as_written(tmp_path, case):
    path, extra, _ = _write(case, tmp_path)
    ds = load_dataset({"kind": "file", "path": str(path), "target": "label", **extra})
    want = frame()
    assert list(ds.X.columns) == ["amount", "city"] and ds.categorical == ("city",)
    assert ds.n_minority == 12 and ds.positive_label == "yes"
    # Numbers read as numbers (a decimal comma too), text intact (no mojibake).
    assert ds.X["amount"].dtype == np.float64
    np.testing.assert_allclose(ds.X["amount"], want["amount"])
    assert list(ds.X["city"]) == list(want["city"])


@pytest.mark.parametrize("case", FAILS)
def test_odd_file_names_its_problem(tmp_path, case):
    path, extra, match = _write(case, tmp_path)
    with pytest.raises(ConfigError, match=match):
        load_dataset({"kind": "file", "path": str(path), "target": "label", **extra})


def test_dates_become_numbers_and_times_hours():
    from imbsweep.datasets.tabular_file import date_features

    when = pd.Series(["2024-01-01 06:30", "2024-02-29", None])
    out, problem = date_features(when, "t")
    assert problem is None and list(out) == ["t_days", "t_month", "t_weekday", "t_hour"]
    assert out["t_days"][0] == pytest.approx(19723.2708333)  # 2024-01-01 is day 19723
    assert list(out["t_month"][:2]) == [1, 2] and list(out["t_weekday"][:2]) == [0, 3]
    assert out["t_hour"][0] == 6.5 and np.isnan(out["t_days"][2])
    out, _ = date_features(pd.Series(["31/01/2024", "01/02/2024"]), "d")  # day first
    assert list(out["d_month"]) == [1, 2]
    out, _ = date_features(pd.Series(["9:15", "17:45:30"]), "t")
    assert list(out) == ["t_hours"] and out["t_hours"][0] == 9.25


def test_imputer_is_fitted_on_training_rows_only(tmp_path):
    from imbsweep.methods import build_preprocessor

    df = frame(200)
    df.loc[::7, "amount"] = np.nan
    df.loc[::11, "city"] = None
    df.to_csv(tmp_path / "m.csv", index=False)
    ds = load_dataset({"kind": "file", "path": str(tmp_path / "m.csv"), "target": "label"})
    assert ds.extra["impute"] == {"numeric": "median", "categorical": "most_frequent"}
    train = np.arange(0, 200, 2)
    pre = build_preprocessor(ds, standardize=True).fit(ds.X.iloc[train])
    imp = pre.named_transformers_["num"].named_steps["impute"]
    assert imp.statistics_[0] == pytest.approx(ds.X["amount"].iloc[train].median())
    assert imp.statistics_[0] != pytest.approx(ds.X["amount"].median())
    out = pre.transform(ds.X)
    assert not np.isnan(out).any() and out.shape == (200, 1 + 3)
    # dataset.impute=null refuses missing values, naming the columns.
    with pytest.raises(ConfigError, match=r"'amount' \(29\), 'city' \(19\)"):
        load_dataset(
            {"kind": "file", "path": str(tmp_path / "m.csv"), "target": "label", "impute": None}
        )
    with pytest.raises(ConfigError, match=r"dataset.impute.numeric='avg'.*'median', 'mean'"):
        load_dataset(
            {
                "kind": "file",
                "path": str(tmp_path / "m.csv"),
                "target": "label",
                "impute": {"numeric": "avg"},
            }
        )


# ---------------------------------------------------------------- through the commands


def _runs_in(db: Path) -> int:
    """Runs in a sqlite MLflow store (0 if there is no store)."""
    if not db.exists():
        return 0
    with sqlite3.connect(db) as con:
        tables = {r[0] for r in con.execute("select name from sqlite_master")}
        return con.execute("select count(*) from runs").fetchone()[0] if "runs" in tables else 0


def _assert_one_message(p, prog: str, match: str) -> None:
    out = p.stdout + p.stderr
    assert p.returncode == 2, out[-3000:]
    assert "Traceback" not in out and "Exception in thread" not in out, out[-3000:]
    assert p.stderr.count(f"{prog}: ") == 1, p.stderr
    assert re.search(match, p.stderr, re.S), p.stderr


# The default sweep (four methods) on the default launcher: the Dask cluster starts while the
# jobs are planned and must shut down quietly (it printed a second traceback).
ON_DASK = ("empty", "latin1", "several_problems_at_once")


@pytest.mark.slow
@pytest.mark.parametrize("case", FAILS)
def test_bad_file_through_imbsweep_is_one_message_and_writes_nothing(tmp_path, case):
    path, extra, match = _write(case, tmp_path)
    db = tmp_path / "mlflow.db"
    args = ["imbsweep", "dataset=file", f"dataset.path={path}", "dataset.target=label"]
    args += [f"dataset.{k}={v}" for k, v in extra.items()]
    args += ["seeds=1", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    if case in ON_DASK:  # set: a sweep this small would otherwise run in this process
        args.append("hydra.launcher.n_workers=2")
    else:
        args.append("hydra/launcher=basic")  # the same message, without a cluster to wait for
    p = run_cli(args, tmp_path, f"sqlite:///{db}")
    _assert_one_message(p, "imbsweep", match)
    assert _runs_in(db) == 0


@pytest.mark.slow
def test_bad_file_in_a_tuning_study_is_one_message_before_the_study(tmp_path):
    path, _, match = _write("blank_labels", tmp_path)
    db, study = tmp_path / "mlflow.db", tmp_path / "study.db"
    args = [
        "imbsweep",
        "sweeps=tune_brf",
        "dataset=file",
        f"dataset.path={path}",
        "dataset.target=label",
        f"hydra.sweeper.storage=sqlite:///{study}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]
    p = run_cli(args, tmp_path, f"sqlite:///{db}")
    _assert_one_message(p, "imbsweep", match)
    assert _runs_in(db) == 0 and not study.exists()


@pytest.mark.slow
def test_bad_file_through_mlflow_run_is_one_message(tmp_path):
    import mlflow
    from conftest import ROOT

    path, _, match = _write("infinities", tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    overrides = f"dataset.path={path} dataset.target=label hydra.sweep.dir={tmp_path / 's'}"
    args = ["mlflow", "run", str(ROOT), "--env-manager", "local", "-P", "dataset=file"]
    p = run_cli([*args, "-P", "seeds=1", "-P", f"overrides={overrides}"], tmp_path, uri)
    out = p.stdout + p.stderr
    assert p.returncode != 0 and "Traceback" not in out, out[-3000:]
    assert p.stderr.count("imbsweep: ") == 1 and re.search(match, p.stderr), p.stderr
    # Only the run MLflow opens before it starts the command, marked FAILED: none of imbsweep's.
    mlflow.set_tracking_uri(uri)
    (project,) = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert project.info.status == "FAILED" and "run_level" not in project.data.tags


@pytest.mark.slow
def test_imbsweep_report_bad_arguments_are_one_message_and_create_no_store(tmp_path):
    missing = tmp_path / "nowhere" / "mlflow.db"
    uri = f"sqlite:///{missing}"
    p = run_cli(["imbsweep-report", "--list"], tmp_path, uri)
    _assert_one_message(p, "imbsweep-report", r"no MLflow store at .*nowhere")
    assert not missing.parent.exists()
    p = run_cli(["imbsweep-report", "--claims", "nope"], tmp_path, uri)
    _assert_one_message(p, "imbsweep-report", r"--claims nope: .*one of \['practical'\]")
    (tmp_path / "a_file").write_text("")
    p = run_cli(["imbsweep-report", "--out", str(tmp_path / "a_file")], tmp_path, uri)
    _assert_one_message(p, "imbsweep-report", r"is a file, not a directory")
    p = run_cli(["imbsweep-report", "--tracking-uri", "bogus://x"], tmp_path, uri)
    _assert_one_message(p, "imbsweep-report", r"cannot read the MLflow store bogus://x")


def churn_frame(n: int = 400, seed: int = 1) -> pd.DataFrame:
    """A customer table as exported: an id, a signup time, text columns, holes."""
    rng = np.random.default_rng(seed)
    churn = rng.random(n) < 0.15
    df = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "signup": pd.date_range("2022-01-01", periods=n, freq="37h").strftime("%Y-%m-%d %H:%M"),
            "tenure": np.where(churn, rng.normal(5, 3, n), rng.normal(20, 8, n)).round(1),
            "plan": rng.choice(["basic", "plus", "pro"], n),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "monthly": rng.normal(50, 15, n).round(2),
            "churn": np.where(churn, "yes", "no"),
        }
    )
    df.loc[rng.choice(n, 40, replace=False), "tenure"] = np.nan
    df.loc[rng.choice(n, 15, replace=False), "region"] = np.nan
    df.loc[rng.choice(n, 5, replace=False), "signup"] = np.nan
    return df


@pytest.mark.slow
def test_a_real_world_csv_runs_end_to_end_and_the_console_says_what_was_done(tmp_path):
    import mlflow

    churn_frame().to_csv(tmp_path / "churn.csv", index=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = [
        "imbsweep",
        "method=naive,logreg",
        "dataset=file",
        "dataset.path=churn.csv",
        "dataset.target=churn",
        "dataset.drop=[customer_id]",
        "seeds=1",
        "report.plot=false",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]
    p = run_cli(args, tmp_path, uri)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    for said in (
        "churn.csv: 400 rows, 8 features",
        "dropped: customer_id (dataset.drop)",
        "converted: signup -> signup_days, signup_month, signup_weekday, signup_hour",
        "imputed in the pipeline (fitted on training rows): "
        "median: signup (5), tenure (40); most_frequent: region (15)",
        "categorical (one-hot): plan; region",
    ):
        assert out.count(said) == 1, (said, out[-3000:])  # once, not once per worker
    mlflow.set_tracking_uri(uri)
    seeds = mlflow.search_runs(
        search_all_experiments=True,
        filter_string="tags.run_level = 'seed'",
        output_format="list",
    )
    # 2 methods x 1 repeat x 5 folds: a file of one's own gets the k-fold protocol too
    assert len(seeds) == 10 and {r.info.status for r in seeds} == {"FINISHED"}
    for r in seeds:
        assert r.data.params["dataset.impute.numeric"] == "median"
        assert r.data.params["dataset.impute.categorical"] == "most_frequent"


@pytest.mark.parametrize(("sampler", "standardize"), [("smote_nc", True), ("smote_nc", False)])
def test_mixed_data_with_holes_fits_smote_nc_and_scores_every_row(tmp_path, sampler, standardize):
    import dataclasses

    from imbsweep.config import MethodConf
    from imbsweep.data import split_dataset
    from imbsweep.methods import fit_method

    df = frame(300)
    df["plan"] = np.random.default_rng(3).choice(["a", "b"], 300)
    df.loc[::9, "amount"] = np.nan
    df.loc[::13, "city"] = None
    df.to_csv(tmp_path / "m.csv", index=False)
    ds = load_dataset({"kind": "file", "path": str(tmp_path / "m.csv"), "target": "label"})
    split_cfg = {"protocol": "holdout", "test_size": 0.2, "random_state": 0, "stratify": True}
    split = split_dataset(ds, split_cfg, 0)
    cfg = {**dataclasses.asdict(MethodConf(name="t", model="logreg")), "sampler": sampler}
    fitted = fit_method(cfg, ds, split.train, 0, standardize=standardize)
    assert fitted.counts_after[1] > fitted.counts_before[1]  # resampled
    score = fitted.score(ds.X.iloc[split.test])
    assert len(score) == len(split.test) and np.isfinite(score).all()
