"""Samplers x models: every sampler and model end to end on small data, resampling confined to the
training rows, thresholds tuned on validation rows only, bad pairings refused at start."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from conftest import CONF, compose_cfg
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score, f1_score

from imbsweep import tracking
from imbsweep.config import MethodConf, check_config, method_label
from imbsweep.data import Dataset, split_dataset
from imbsweep.errors import ConfigError
from imbsweep.evaluation import EVALUATED, evaluate
from imbsweep.methods import (
    MODELS,
    SAMPLERS,
    Component,
    SkipMethod,
    build_preprocessor,
    check_method,
    check_method_data,
    fit_method,
    method_keys,
    resample_mixed,
)
from imbsweep.runner import run_job
from imbsweep.threshold import candidate_thresholds, tune_threshold

SPLIT = {
    "protocol": "holdout",
    "test_size": 0.2,
    "random_state": 0,
    "stratify": True,
    "validation_size": 0.25,
}
# oversampler: read only by the smote_variants sampler (tests/test_smote_variants.py has more)
FAST = {
    "n_estimators": 10,
    "epochs": 1,
    "steps_per_execution": 50,
    "gan_epochs": 5,
    "oversampler": "ProWSyn",
}
RESAMPLING = sorted(s for s in SAMPLERS if s != "none")


def mcfg(**kw) -> dict:
    """A method config with the schema's defaults (the flat namespace), small where it matters."""
    base = dataclasses.asdict(MethodConf(name="t", model="logreg"))
    return {**base, **FAST, **kw}


def _dataset(categorical: bool = False, n: int = 600, seed: int = 0) -> Dataset:
    X, y = make_classification(
        n_samples=n,
        n_features=6,
        n_informative=3,
        n_redundant=1,
        n_clusters_per_class=1,
        weights=[0.9, 0.1],
        flip_y=0.02,
        random_state=seed,
    )
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)])
    cats: tuple[str, ...] = ()
    if categorical:
        # Categories that carry signal: binned informative features, as strings.
        df["c1"] = pd.cut(df["x0"], [-np.inf, -0.5, 0.5, np.inf], labels=["lo", "mid", "hi"])
        df["c1"] = df["c1"].astype(str)
        df["c2"] = np.where(df["x1"] > 0, "p", "n")
        df = df.drop(columns=["x0"])
        cats = ("c1", "c2")
    return Dataset(
        name="mixed" if categorical else "small", X=df, y=y.astype(np.int64), categorical=cats
    )


@pytest.fixture(scope="module")
def data():
    ds = _dataset()
    return ds, split_dataset(ds, SPLIT, 0)


@pytest.fixture(scope="module")
def mixed():
    ds = _dataset(categorical=True)
    return ds, split_dataset(ds, SPLIT, 0)


def _counts(y):
    return {0: int((y == 0).sum()), 1: int((y == 1).sum())}


def _score_and_evaluate(fitted, ds, rows):
    X, y = ds.X.iloc[rows], ds.y[rows]
    score, pred = fitted.score(X), fitted.predict(X)
    assert score.shape == (len(rows),) and np.all((score >= 0) & (score <= 1))
    assert set(np.unique(pred)) <= {0, 1}
    m = evaluate(y, pred, score)
    assert tuple(m) == EVALUATED  # the same metric names, in order, for every combination
    return m


# ------------------------------------------------------------------ each sampler, end to end


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_sampler_sees_training_rows_only(sampler, data, mixed, monkeypatch):
    ds, split = mixed if SAMPLERS[sampler].needs_categorical else data
    digest, test_counts = ds.digest(), _counts(ds.y[split.test])
    seen = []
    orig = SAMPLERS[sampler]

    def spy_build(*args, **kw):
        s, info = orig.build(*args, **kw)
        if s is not None:
            fit_resample = s.fit_resample

            def spying(X, y):
                seen.append((len(X), np.asarray(y).copy()))
                return fit_resample(X, y)

            s.fit_resample = spying
        return s, info

    monkeypatch.setitem(SAMPLERS, sampler, dataclasses.replace(orig, build=spy_build))
    fitted = fit_method(mcfg(sampler=sampler), ds, split.train, seed=0)
    before = _counts(ds.y[split.train])
    assert fitted.counts_before == before
    if sampler == "none":
        assert seen == [] and fitted.counts_after == before
    else:
        ((n_seen, y_seen),) = seen
        assert n_seen == len(split.train) and np.array_equal(y_seen, ds.y[split.train])
        assert fitted.counts_after != before
    kind = orig.kind
    if kind == "over":
        assert fitted.counts_after[0] == before[0] and fitted.counts_after[1] > before[1]
    if kind in ("under", "clean"):
        assert fitted.counts_after[1] == before[1] and fitted.counts_after[0] < before[0]
    if "k_neighbors" in orig.keys:
        assert fitted.info["k_used"] == 5
    # The data and the test rows are untouched, whatever the sampler did.
    assert ds.digest() == digest and _counts(ds.y[split.test]) == test_counts
    m = _score_and_evaluate(fitted, ds, split.test)
    assert m["roc_auc"] > 0.6


def test_smote_nc_keeps_categories_whole_and_originals_exact(mixed):
    ds, split = mixed
    cfg = mcfg(sampler="smote_nc")
    X_tr, y_tr = ds.X.iloc[split.train], ds.y[split.train]
    pre = build_preprocessor(ds, standardize=True).fit(X_tr)
    Xa, y_fit, info = resample_mixed(SAMPLERS["smote_nc"], cfg, ds, X_tr, y_tr, pre, 0)
    n = len(split.train)
    # Original rows: exactly what the fitted preprocessor gives (same columns, same order).
    np.testing.assert_array_equal(Xa[:n], np.asarray(pre.transform(X_tr), dtype=np.float32))
    assert np.array_equal(y_fit[:n], y_tr) and (y_fit[n:] == 1).all()
    # Synthetic rows: one whole category per categorical column (no fractional one-hot).
    onehot = Xa[n:, -5:]  # c1: 3 categories, c2: 2
    assert set(np.unique(onehot)) <= {0.0, 1.0}
    assert (onehot[:, :3].sum(1) == 1).all() and (onehot[:, 3:].sum(1) == 1).all()
    assert info == {"k_used": 5}


def test_tiny_minority_shrinks_k_or_skips(data):
    ds, split = data
    pos = split.train[ds.y[split.train] == 1]
    neg = split.train[ds.y[split.train] == 0]
    four = np.sort(np.r_[neg, pos[:4]])
    for sampler in (
        "smote", "borderline_smote", "adasyn", "smote_tomek", "smote_enn", "svm_smote",
        "kmeans_smote",
    ):  # fmt: skip
        try:
            f = fit_method(mcfg(sampler=sampler), ds, four, seed=0)
        except SkipMethod as exc:
            # Allowed only where imblearn finds nothing to do, with its reason: ADASYN's "no
            # majority neighbour", KMeans-SMOTE's "no cluster with enough minority rows".
            assert (sampler, str(exc)[:30]) in {
                ("adasyn", "adasyn: Not any neigbours belon"),
                ("kmeans_smote", "kmeans_smote: No clusters foun"),
            }, (sampler, str(exc))
            continue
        assert f.info["k_used"] == 3, sampler
    f = fit_method(mcfg(sampler="gan"), ds, four, seed=0)  # its batch shrinks to the 4 rows
    assert f.counts_after == {0: len(neg), 1: len(neg)}
    f = fit_method(mcfg(sampler="near_miss", n_neighbors=9), ds, four, seed=0)
    assert f.info["n_neighbors_used"] == 4
    one = np.sort(np.r_[neg, pos[:1]])
    for sampler in ("smote", "gan"):
        with pytest.raises(SkipMethod, match="1 minority row"):
            fit_method(mcfg(sampler=sampler), ds, one, seed=0)
    for sampler in ("random_over", "noise"):  # copies need no neighbours (noise: no spread)
        f = fit_method(mcfg(sampler=sampler), ds, one, seed=0)
        assert f.counts_after == {0: len(neg), 1: len(neg)}
    with pytest.raises(SkipMethod, match="1 minority row.*SVM"):
        fit_method(mcfg(model="svm", class_weight="balanced"), ds, one, seed=0)


def test_ratio_below_the_training_ratio_fails_naming_the_key(data):
    ds, split = data
    with pytest.raises(ValueError, match=r"^method.sampling_strategy=0.01 is below .* Use a ratio"):
        fit_method(mcfg(sampler="smote", sampling_strategy=0.01), ds, split.train, seed=0)
    f = fit_method(mcfg(sampler="random_under", sampling_strategy=0.5), ds, split.train, seed=0)
    assert f.counts_after[0] == 2 * f.counts_after[1]


# ------------------------------------------------------------------ each model, end to end

MODEL_CASES = [
    ("majority", {}),
    ("logreg", {}),
    ("logreg", {"class_weight": "balanced", "weight_scale": 2.0}),
    ("random_forest", {"class_weight": "balanced"}),
    ("hist_gb", {"class_weight": "balanced"}),
    ("brf", {}),
    ("easy_ensemble", {"n_estimators": 3}),
    ("balanced_bagging", {"n_estimators": 5}),
    ("rusboost", {"n_estimators": 5}),
    ("xgboost", {"class_weight": "balanced"}),
    ("lightgbm", {"class_weight": "balanced"}),
    ("svm", {"class_weight": "balanced"}),
    ("svm", {"svm_kernel": "linear", "svm_c": 0.5}),
    ("mlp", {"class_weight": "balanced"}),
    ("mlp", {"loss": "focal", "focal_gamma": 2.0, "focal_alpha": 0.75, "sampler": "smote"}),
]


@pytest.mark.parametrize(("model", "extra"), MODEL_CASES, ids=lambda v: str(v))
def test_model_end_to_end(model, extra, data):
    ds, split = data
    cfg = mcfg(model=model, **extra)
    check_method(cfg)
    fitted = fit_method(cfg, ds, split.train, seed=0)
    m = _score_and_evaluate(fitted, ds, split.test)
    if model == "majority":
        assert m["minority_recall"] == 0
    else:
        assert m["roc_auc"] > 0.6
    if extra.get("loss") == "focal":
        assert fitted.model.loss == "focal" and fitted.model.focal_alpha == 0.75
        assert {"loss", "focal_gamma", "focal_alpha"} <= set(method_keys(cfg))


def test_weight_scale_multiplies_the_minority_weight(data):
    ds, split = data
    for model in ("logreg", "random_forest", "hist_gb", "lightgbm"):
        a = fit_method(mcfg(model=model, class_weight="balanced"), ds, split.train, 0)
        b = fit_method(
            mcfg(model=model, class_weight="balanced", weight_scale=3.0), ds, split.train, 0
        )
        wa, wb = a.model.class_weight, b.model.class_weight
        assert wb[0] == wa[0] and wb[1] == pytest.approx(3 * wa[1]), model
        # Heavier minority weight -> at least as many positive predictions on the test rows.
        X = ds.X.iloc[split.test]
        assert b.predict(X).sum() >= a.predict(X).sum(), model


# ------------------------------------------------------------------ the matrix: same metric names

CHEAP_MODELS = ("majority", "logreg", "random_forest", "hist_gb")


@pytest.mark.parametrize("model", CHEAP_MODELS)
@pytest.mark.parametrize("sampler", RESAMPLING)
def test_every_sampler_with_every_cheap_model(sampler, model, data, mixed):
    ds, split = mixed if SAMPLERS[sampler].needs_categorical else data
    cfg = mcfg(sampler=sampler, model=model)
    check_method(cfg)
    check_method_data(cfg, ds)
    fitted = fit_method(cfg, ds, split.train, seed=0)
    assert fitted.counts_before == _counts(ds.y[split.train])
    _score_and_evaluate(fitted, ds, split.validation)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_without_a_sampler_keeps_the_rows(model, data):
    """Every model x ``none``: it is fitted on exactly the training rows; test rows untouched."""
    ds, split = data
    digest, test_counts = ds.digest(), _counts(ds.y[split.test])
    cfg = mcfg(model=model, sampler="none")
    check_method(cfg)
    fitted = fit_method(cfg, ds, split.train, seed=0)
    assert fitted.counts_after == fitted.counts_before == _counts(ds.y[split.train])
    assert ds.digest() == digest and _counts(ds.y[split.test]) == test_counts
    _score_and_evaluate(fitted, ds, split.test)


def test_boosting_libraries_take_the_practical_weights(data):
    ds, split = data
    y = ds.y[split.train]
    ratio = (y == 0).sum() / (y == 1).sum()  # w_1 / w_0 of w_c = N / (2 n_c)
    for scale in (1.0, 3.0):
        cfg = mcfg(model="xgboost", class_weight="balanced", weight_scale=scale)
        f = fit_method(cfg, ds, split.train, 0)
        assert f.model.get_params()["scale_pos_weight"] == pytest.approx(ratio * scale)
        assert f.packages == ("xgboost-cpu",)
    assert fit_method(mcfg(model="xgboost"), ds, split.train, 0).model.scale_pos_weight == 1.0
    lgbm = fit_method(mcfg(model="lightgbm", class_weight="balanced"), ds, split.train, 0)
    w = lgbm.model.class_weight
    assert w[1] / w[0] == pytest.approx(ratio) and lgbm.packages == ("lightgbm",)


def test_svm_class_weights_survive_its_calibration(data):
    """The weights reach the Platt fit too: at threshold 0.5 the weighted SVM finds more
    minority rows than the unweighted one (a calibration on unweighted rows would undo them)."""
    ds, split = data
    X, y = ds.X.iloc[split.test], ds.y[split.test]
    plain = fit_method(mcfg(model="svm"), ds, split.train, 0)
    weighted = fit_method(mcfg(model="svm", class_weight="balanced"), ds, split.train, 0)
    heavier = fit_method(
        mcfg(model="svm", class_weight="balanced", weight_scale=3.0), ds, split.train, 0
    )
    n_plain, n_w, n_h = (f.predict(X).sum() for f in (plain, weighted, heavier))
    assert n_plain < n_w <= n_h
    recall = [((f.predict(X) == 1) & (y == 1)).sum() for f in (plain, weighted)]
    assert recall[0] < recall[1]


# ------------------------------------------------------------------ thresholds


def test_tuned_threshold_is_the_best_on_the_validation_rows():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.15).astype(int)
    s = np.clip(0.3 * y + rng.normal(0.3, 0.15, 300), 0, 1)
    for metric, fn in (("minority_f1", f1_score), ("balanced_accuracy", balanced_accuracy_score)):
        t, best = tune_threshold(y, s, metric)
        assert fn(y, (s > t).astype(int)) == pytest.approx(best)
        brute = max(fn(y, (s > c).astype(int)) for c in candidate_thresholds(s))
        assert best == pytest.approx(brute)


def test_threshold_is_tuned_on_validation_rows_only(data):
    ds, split = data
    cfg = mcfg(model="logreg", threshold="tuned", threshold_metric="minority_f1")
    base = fit_method(cfg, ds, split.train, seed=0, validation=split.validation)
    assert base.threshold != 0.5 and 0 < base.info["threshold_val_score"] <= 1
    # Other test labels: the same threshold (the test rows are never looked at).
    y = ds.y.copy()
    y[split.test] = 1 - y[split.test]
    flipped_test = dataclasses.replace(ds, y=y)
    again = fit_method(cfg, flipped_test, split.train, seed=0, validation=split.validation)
    assert again.threshold == base.threshold
    # Other validation labels: another threshold (the model is the same: same training rows).
    y = ds.y.copy()
    rng = np.random.default_rng(1)
    flip = rng.choice(split.validation, size=len(split.validation) // 3, replace=False)
    y[flip] = 1 - y[flip]
    flipped_val = dataclasses.replace(ds, y=y)
    other = fit_method(cfg, flipped_val, split.train, seed=0, validation=split.validation)
    np.testing.assert_array_equal(
        other.score(ds.X.iloc[split.test]), base.score(ds.X.iloc[split.test])
    )
    assert other.threshold != base.threshold
    with pytest.raises(ConfigError, match="split.validation_size"):
        fit_method(cfg, ds, split.train, seed=0)


def test_tuned_threshold_through_the_runner(store):
    cfg = compose_cfg(
        [
            "method=logreg_balanced",
            "method.threshold=tuned",
            "method.threshold_metric=balanced_accuracy",
            "split.validation_size=0.25",
            "dataset.n_samples=1000",
            "seeds=[0]",
            "tracking.enabled=false",
        ]
    )
    (m,) = run_job(cfg, tracking.Tracker(enabled=False)).metrics
    assert m["threshold"] != 0.5 and "threshold_val_score" in m and "val_minority_f1" in m


# ------------------------------------------------------------------ pairings refused at start

BAD = [
    ({"model": "brf", "sampler": "smote"}, "method.sampler='smote'", "resamples internally"),
    ({"model": "easy_ensemble", "sampler": "tomek"}, "method.sampler='tomek'", "sampler=none"),
    ({"model": "majority", "threshold": "tuned"}, "method.threshold='tuned'", "threshold=0.5"),
    ({"model": "majority", "class_weight": "balanced"}, "method.class_weight=", "no class wei"),
    ({"model": "brf", "class_weight": "balanced"}, "method.class_weight=", "balances its"),
    ({"model": "logreg", "loss": "focal"}, "method.loss='focal'", "method.model=mlp"),
    ({"model": "random_forest", "loss": "focal"}, "method.loss='focal'", "method.loss=bce"),
    ({"model": "mlp", "threshold_metric": "roc_auc"}, "method.threshold_metric=", "minority_f1"),
    ({"sampler": "smote", "sampling_strategy": "majority"}, "method.sampling_strategy=", "over"),
    ({"sampler": "near_miss", "sampling_strategy": "minority"}, "method.sampling_str", "under"),
    ({"sampler": "bogus"}, "method.sampler='bogus'", "smote_nc"),
    ({"model": "catboost"}, "method.model='catboost'", "xgboost"),
    ({"model": "rusboost", "sampler": "gan"}, "method.sampler='gan'", "resamples internally"),
    ({"model": "balanced_bagging", "class_weight": "balanced"}, "method.class_weight=", "balan"),
    ({"model": "xgboost", "loss": "focal"}, "method.loss='focal'", "method.model=mlp"),
    ({"sampler": "gan", "sampling_strategy": "majority"}, "method.sampling_strategy=", "over"),
    ({"sampler": "cluster_centroids", "sampling_strategy": "minority"}, "method.sampl", "under"),
    ({"model": "mlp", "loss": "focal", "focal_alpha": 1.5}, "method.focal_alpha=1.5", "(0, 1)"),
    ({"sampler": "borderline_smote", "borderline_kind": 3}, "method.borderline_kind=3", "1 or 2"),
]


@pytest.mark.parametrize(("bad", "head", "fix"), BAD, ids=lambda v: str(v))
def test_bad_pairing_names_key_value_and_fix(bad, head, fix):
    with pytest.raises(ConfigError) as err:
        check_method(mcfg(**bad))
    assert str(err.value).startswith(head) and fix in str(err.value)


def test_smote_nc_needs_categorical_and_numeric_columns(data, mixed):
    with pytest.raises(ConfigError, match=r"^method.sampler='smote_nc'.*no categorical column"):
        check_method_data(mcfg(sampler="smote_nc"), data[0])
    check_method_data(mcfg(sampler="smote_nc"), mixed[0])
    ds = mixed[0]
    only_cat = dataclasses.replace(ds, X=ds.X[["c1", "c2"]])
    with pytest.raises(ConfigError, match="random_over"):
        check_method_data(mcfg(sampler="smote_nc"), only_cat)


def test_data_pairing_check_runs_before_any_run_opens(data):
    class Spy(tracking.Tracker):
        def create_run(self, *a, **kw):
            raise AssertionError("a run was opened")

    cfg = compose_cfg(["method=smote_ann", "method.sampler=smote_nc", "seeds=[0]"])
    with pytest.raises(ConfigError, match="no categorical column"):
        run_job(cfg, Spy(enabled=False), dataset=data[0])


# ------------------------------------------------------------------ presets and the flat namespace


PRESETS = sorted(p.stem for p in (CONF / "method").glob("*.yaml"))


def test_presets_compose_and_pass_the_checks():
    for name in PRESETS:
        cfg = compose_cfg([f"method={name}"])
        assert cfg["method"]["name"] == name
        check_config(cfg)
    labels = {method_label(compose_cfg([f"method={n}"])["method"]) for n in PRESETS}
    assert len(labels) == len(PRESETS)


def test_any_sampler_with_any_model_from_a_preset():
    cfg = compose_cfg(["method=smote_ann", "method.sampler=adasyn", "method.model=logreg"])
    check_config(cfg)
    assert method_label(cfg["method"]) == "smote_ann adasyn+logreg k=5"
    assert method_label(compose_cfg(["method=smote_ann"])["method"]) == "smote_ann k=5"
    keys = method_keys(cfg["method"])
    assert "k_neighbors" in keys and "max_iter" in keys and "hidden_units" not in keys


def test_component_registry_is_complete():
    assert set(SAMPLERS) == {
        "none", "random_over", "smote", "borderline_smote", "adasyn", "smote_nc",
        "random_under", "tomek", "enn", "near_miss", "smote_tomek", "smote_enn",
        "svm_smote", "kmeans_smote", "noise", "gan", "cluster_centroids", "cnn",
        "one_sided_selection", "ncr", "instance_hardness", "smote_variants",
    }  # fmt: skip
    assert set(MODELS) == {
        "mlp", "logreg", "random_forest", "brf", "easy_ensemble", "hist_gb", "majority",
        "xgboost", "lightgbm", "svm", "balanced_bagging", "rusboost",
    }  # fmt: skip
    assert all(isinstance(c, Component) for c in (*SAMPLERS.values(), *MODELS.values()))


def test_docs_tables_list_every_sampler_model_and_preset():
    page = (CONF.parent / "docs" / "methods.md").read_text()
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    first_cells = " ".join(r.split("|")[1] for r in rows)
    for name in (*SAMPLERS, *MODELS, *PRESETS):
        assert f"`{name}`" in first_cells, f"{name} is missing from docs/methods.md's tables"
