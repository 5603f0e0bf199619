"""The new remedies through the runner with tracking: their figures land on the seed run, and
their models reload with the library they need among the pinned requirements."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
from conftest import SMALL, compose_cfg

from imbsweep import tracking
from imbsweep.data import load_dataset, split_dataset
from imbsweep.methods import fit_method
from imbsweep.runner import run_job


def _seed_run_and_model(cfg):
    run_job(cfg, tracking.Tracker())
    (run,) = mlflow.search_runs(
        search_all_experiments=True, filter_string="tags.run_level = 'seed'", output_format="list"
    )
    exp = mlflow.get_experiment_by_name("imbsweep").experiment_id
    (model,) = mlflow.search_logged_models([exp], output_format="list")
    return run, model


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "package"), [("xgb_weighted", "xgboost-cpu"), ("lgbm_weighted", "lightgbm")]
)
def test_boosting_model_reloads_with_its_library_pinned(store, method, package):
    cfg = compose_cfg([f"method={method}", "seeds=[0]", *SMALL])
    run, model = _seed_run_and_model(cfg)
    local = Path(mlflow.artifacts.download_artifacts(model.model_uri))
    reqs = (local / "requirements.txt").read_text().split()
    assert any(r.startswith(f"{package}==") for r in reqs), reqs
    ds = load_dataset(cfg["dataset"])
    split = split_dataset(ds, cfg["split"], 0)
    expected = fit_method(cfg["method"], ds, split.train, 0).score(ds.X.iloc[split.test])
    X = ds.X.iloc[split.test].to_numpy(np.float32)
    got = mlflow.sklearn.load_model(model.model_uri).predict_proba(X)[:, 1]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.slow
def test_gan_figures_are_seed_run_metrics(store):
    cfg = compose_cfg(["method=gan_ann", "seeds=[0]", "method.gan_epochs=20", *SMALL])
    run, _ = _seed_run_and_model(cfg)
    m = run.data.metrics
    assert {"gan_generator_loss", "gan_discriminator_loss", "synthetic_c2st_auc"} <= set(m)
    assert 0 <= m["synthetic_c2st_auc"] <= 1
    assert m["resampled_class1"] == m["resampled_class0"] == m["train_class0"]
    p = run.data.params
    assert p["method.gan_epochs"] == "20" and p["method.sampler"] == "gan"
