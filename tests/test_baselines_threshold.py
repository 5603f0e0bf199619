"""No-remedy baselines for every model; thresholds tuned out-of-fold, logged with the model."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from conftest import CONF, SMALL, compose_cfg
from omegaconf import OmegaConf

from imbsweep import tracking
from imbsweep.config import check_config
from imbsweep.data import load_dataset, split_dataset
from imbsweep.errors import ConfigError
from imbsweep.methods import MODELS, fit_method
from imbsweep.runner import run_job
from imbsweep.threshold import oof_threshold

BASELINES = OmegaConf.load(CONF.parent / "sweeps" / "baselines.yaml")


def _baseline_presets() -> dict[str, str]:
    """model -> the preset of the baselines sweep that fits it with no remedy."""
    out = {}
    for name in str(BASELINES.hydra.sweeper.params.method).split(","):
        m = OmegaConf.load(CONF / "method" / f"{name}.yaml")
        assert m.sampler == "none" and m.get("class_weight", "none") == "none", name
        out[str(m.model)] = name
    return out


def test_every_model_has_a_no_remedy_baseline_with_and_without_a_tuned_threshold():
    # Models that balance their own training data (brf, easy_ensemble) are remedies; the
    # majority baseline has no scores to threshold. Every other model needs its baseline here.
    need = {n for n, c in MODELS.items() if c.probabilistic and not c.resamples_internally}
    assert need <= set(_baseline_presets()), need - set(_baseline_presets())
    assert str(BASELINES.hydra.sweeper.params["method.threshold"]).split(",") == ["0.5", "tuned"]


@pytest.mark.parametrize("preset", sorted(set(_baseline_presets().values())))
def test_baselines_run_for_every_model(preset):
    extra = ["method.epochs=1"] if preset == "ann" else []
    for thr in ("0.5", "tuned"):
        cfg = compose_cfg(
            [
                "sweeps=baselines",
                f"method={preset}",
                f"method.threshold={thr}",
                "seeds=[0]",
                *SMALL,
                *extra,
            ]
        )
        res = run_job(cfg, tracking.Tracker(enabled=False))
        (m,) = res.metrics
        assert 0 <= m["minority_f1"] <= 1 and np.isfinite(m["brier"])
        if thr == "tuned":
            assert "threshold_oof_score" in m and 0 < m["threshold"] < 1
        else:
            assert m["threshold"] == 0.5


def test_oof_threshold_sees_training_rows_only():
    cfg = compose_cfg(["method=rf", *SMALL])
    ds = load_dataset(cfg["dataset"])
    split = split_dataset(ds, cfg["split"], 0)
    t, best = oof_threshold(cfg["method"], ds, split.train, 0, False, 3, "minority_f1")
    assert 0 < t < 1 and 0 < best <= 1
    # Changing every test label changes nothing: the threshold never saw them.
    y2 = ds.y.copy()
    y2[split.test] = 1 - y2[split.test]
    from dataclasses import replace

    t2, _ = oof_threshold(cfg["method"], replace(ds, y=y2), split.train, 0, False, 3, "minority_f1")
    assert t2 == t


def test_tuned_threshold_needs_validation_rows_or_folds():
    cfg = compose_cfg(["method=rf", "method.threshold=tuned"])
    with pytest.raises(ConfigError, match="split.validation_size.*threshold_cv"):
        check_config(cfg)
    check_config(compose_cfg(["method=rf", "method.threshold=tuned", "method.threshold_cv=5"]))
    with pytest.raises(ConfigError, match="method.threshold_cv=1"):
        check_config(compose_cfg(["method=rf", "method.threshold_cv=1"]))


@pytest.mark.parametrize("method", ["rf", "ann"])
def test_logged_model_with_tuned_threshold_predicts_thresholded_labels(store, method):
    over = ["method.epochs=2"] if method == "ann" else []
    cfg = compose_cfg(
        [
            f"method={method}",
            "method.threshold=tuned",
            "method.threshold_cv=3",
            "seeds=[0]",
            *SMALL,
            *over,
        ]
    )
    (m,) = run_job(cfg, tracking.Tracker()).metrics
    thr = m["threshold"]
    assert thr != 0.5
    exp = mlflow.get_experiment_by_name("imbsweep").experiment_id
    (model,) = mlflow.search_logged_models([exp], output_format="list")
    ds = load_dataset(cfg["dataset"])
    split = split_dataset(ds, cfg["split"], 0)
    fitted = fit_method({**cfg["method"], "threshold": 0.5}, ds, split.train, 0)
    X = ds.X.iloc[split.test]
    score = fitted.score(X)
    expected = (score > thr).astype(np.int64)
    assert not np.array_equal(expected, (score > 0.5).astype(np.int64))  # the threshold matters
    # A scikit-learn model without preprocessing takes the float32 features (as before); the
    # net's pyfunc takes raw rows.
    Xin = X.to_numpy(np.float32) if method == "rf" else X
    got = np.asarray(mlflow.pyfunc.load_model(model.model_uri).predict(Xin)).reshape(-1)
    np.testing.assert_array_equal(got.astype(np.int64), expected)
    # Test-set metrics were computed with the same rule.
    tp = int(((expected == 1) & (ds.y[split.test] == 1)).sum())
    assert m["predicted_positives"] == expected.sum()
    assert m["minority_recall"] == pytest.approx(tp / ds.y[split.test].sum())


def test_net_budget_min_steps_and_early_stopping():
    from imbsweep.keras_model import KerasMLP

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    y = (X[:, 0] + 0.3 * rng.normal(size=120) > 1.0).astype(np.int64)
    # 120 rows / batch 32 = 4 steps per pass: 200 steps need 50 passes, 5 epochs of 10 copies.
    net = KerasMLP(epochs=5, batch_size=32, min_steps=200, steps_per_execution=10).fit(X, y)
    assert net.passes_ == 50
    assert KerasMLP(epochs=5, min_steps=0).fit(X, y).passes_ is None
    es = KerasMLP(epochs=30, early_stopping=2, steps_per_execution=10).fit(X, y)
    assert 3 <= es.epochs_run_ <= 30
    cfg = compose_cfg(["sweeps=benchmark_keel", "method=ann"])["method"]
    assert cfg["min_steps"] == 2000 and cfg["epochs"] == 5
    assert compose_cfg(["method=smote_ann"])["method"]["min_steps"] == 0  # the practical's 5
