"""Runs, params, metrics, artifacts and models read back from a real sqlite MLflow store."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest
from conftest import SMALL, compose_cfg
from mlflow import MlflowClient

from imbsweep import tracking
from imbsweep.data import load_dataset, split_dataset
from imbsweep.evaluation import METRICS
from imbsweep.runner import run_job


def children(parent_id: str) -> list:
    return MlflowClient().search_runs(
        [mlflow.get_experiment_by_name("imbsweep").experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_id}'",
        order_by=["attributes.start_time ASC"],
    )


def test_job_logs_runs_params_metrics_artifacts(store, tmp_path):
    cfg = compose_cfg(["method=brf", "seeds=[3,4]", *SMALL])
    tracker = tracking.Tracker()
    sweep_id = tracker.create_run("sweep test", {"run_level": "sweep"})
    result = run_job(cfg, tracker, sweep_id)
    client = MlflowClient()

    (job,) = children(sweep_id)
    assert job.info.run_name == "brf trees=10" and job.info.status == "FINISHED"
    assert job.data.tags["run_level"] == "job" and job.data.tags["sweep_id"] == sweep_id
    assert job.data.params["method.n_estimators"] == "10"
    assert job.data.params["method.replacement"] == "True"
    assert "method.epochs" not in job.data.params  # only the keys this method reads
    # Only what tells jobs apart: the method's keys, the dataset, the seeds.
    assert job.data.params["dataset.name"] == "synthetic" and job.data.params["seeds"] == "[3, 4]"
    assert "split.test_size" not in job.data.params and "tracking.uri" not in job.data.params
    for m in ("minority_f1", "accuracy"):
        vals = [r[m] for r in result.metrics]
        # The mean under the seed runs' own name: one UI column compares both levels.
        assert job.data.metrics[m] == pytest.approx(np.mean(vals))
        assert f"{m}_mean" not in job.data.metrics
        assert job.data.metrics[f"{m}_max"] == pytest.approx(max(vals))
        assert job.data.metrics[f"{m}_std"] == pytest.approx(np.std(vals, ddof=1))

    seeds = children(job.info.run_id)
    assert [r.info.run_name for r in seeds] == ["seed=3 brf trees=10", "seed=4 brf trees=10"]
    for run, expected in zip(seeds, result.metrics, strict=True):
        t, p, m = run.data.tags, run.data.params, run.data.metrics
        assert (t["method"], t["dataset"], t["run_level"]) == ("brf", "synthetic", "seed")
        assert t["sweep_id"] == sweep_id and t["git_commit"]
        assert p["seed"] == t["seed"] and p["dataset.n_samples"] == "1000"
        assert (p["data.n_rows"], p["data.positive_label"]) == ("1000", "1")
        # The data as an MLflow input: runs on the same rows share its digest.
        full = client.get_run(run.info.run_id)
        (inp,) = full.inputs.dataset_inputs
        assert inp.dataset.digest == p["data.digest"] and inp.dataset.name == "synthetic"
        for key in (
            *METRICS,
            "fit_seconds",
            "train_class0",
            "train_class1",
            "resampled_class1",
            "test_class1",
        ):
            assert m[key] == pytest.approx(expected[key])
        arts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {
            "classification_report.txt",
            "classification_report.json",
            "confusion_matrix.json",
            "pr_curve.json",
        } <= arts
        rep = json.loads(
            client.download_artifacts(run.info.run_id, "classification_report.json", str(tmp_path))
            and (tmp_path / "classification_report.json").read_text()
        )
        assert rep["1"]["f1-score"] == pytest.approx(m["minority_f1"])


@pytest.mark.parametrize(
    ("method", "dataset"),
    [
        ("brf", "synthetic"),
        ("smote_ann", "synthetic"),
        ("smote_ann", "fraud"),
        ("rf_balanced", "fraud"),
    ],
)
def test_logged_model_reloads_and_predicts_the_same(store, method, dataset):
    """Same seed -> same model: the reloaded model predicts what a fresh fit predicts.

    With categorical columns (fraud) the encoder fitted on the training rows is part of the
    logged model, which then takes raw rows.
    """
    fraud = ["dataset.n_samples=3000", "split.protocol=holdout"]  # one seed run to reload
    extra = fraud if dataset == "fraud" else SMALL
    cfg = compose_cfg([f"method={method}", f"dataset={dataset}", "seeds=[0]", *extra])
    run_job(cfg, tracking.Tracker())
    (run,) = mlflow.search_runs(
        search_all_experiments=True, filter_string="tags.run_level = 'seed'", output_format="list"
    )
    exp = mlflow.get_experiment_by_name("imbsweep").experiment_id
    (model,) = mlflow.search_logged_models([exp], output_format="list")
    assert model.source_run_id == run.info.run_id
    ds = load_dataset(cfg["dataset"])
    split = split_dataset(ds, cfg["split"], 0)
    from imbsweep.methods import fit_method

    fitted = fit_method(
        cfg["method"], ds, split.train, 0, standardize=cfg["dataset"].get("standardize", False)
    )
    X_raw = ds.X.iloc[split.test]
    expected = fitted.score(X_raw)
    pyfunc = mlflow.pyfunc.load_model(model.model_uri)
    assert pyfunc.metadata.signature is not None
    if dataset == "fraud":  # raw rows in, encoder inside the model
        got = np.asarray(pyfunc.predict(X_raw)).reshape(-1)
        if method == "rf_balanced":
            got = mlflow.sklearn.load_model(model.model_uri).predict_proba(X_raw)[:, 1]
    elif method == "brf":
        got = mlflow.sklearn.load_model(model.model_uri).predict_proba(X_raw.to_numpy(np.float32))[
            :, 1
        ]
    else:
        net = mlflow.keras.load_model(model.model_uri)
        got = np.asarray(net(X_raw.to_numpy(np.float32))).reshape(-1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_seed_runs_sorted_by_name_come_in_seed_order(store):
    """Past 9 seeds too: what MLflow's search (and the UI's Run Name sort) does with names."""
    cfg = compose_cfg(["method=naive", "seeds=12", *SMALL])
    tracker = tracking.Tracker()
    sweep_id = tracker.create_run("sweep test", {"run_level": "sweep"})
    run_job(cfg, tracker, sweep_id)
    (job,) = children(sweep_id)
    runs = MlflowClient().search_runs(
        [job.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{job.info.run_id}'",
        order_by=["attributes.run_name ASC"],
    )
    assert [int(r.data.tags["seed"]) for r in runs] == list(range(12))
    assert runs[2].info.run_name == "seed=02 naive"


def test_same_seed_same_metrics(store):
    cfg = compose_cfg(["method=smote_ann", "seeds=[7]", *SMALL])
    a = run_job(cfg, tracking.Tracker(enabled=False)).metrics[0]
    b = run_job(cfg, tracking.Tracker(enabled=False)).metrics[0]
    drop = {"fit_seconds"}
    assert {k: v for k, v in a.items() if k not in drop} == {
        k: v for k, v in b.items() if k not in drop
    }


def test_a_failing_job_marks_its_runs_failed_with_the_error(store, monkeypatch):
    cfg = compose_cfg(["method=brf", "seeds=2", *SMALL])

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("imbsweep.runner.evaluate", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        run_job(cfg, tracking.Tracker())
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert {r.data.tags["run_level"]: r.info.status for r in runs} == {
        "job": "FAILED",
        "seed": "FAILED",
    }
    assert all("disk on fire" in r.data.tags["error"] for r in runs)


def test_tracking_uri_defaults_to_an_absolute_sqlite_file(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = tracking.default_tracking_uri()
    assert uri == f"sqlite:///{tracking.PROJECT_ROOT / 'mlflow.db'}"
    assert uri.startswith("sqlite:////")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking.default_tracking_uri() == "http://127.0.0.1:5000"
