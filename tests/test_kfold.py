"""Repeated stratified k-fold: the default protocol on every dataset but the practical's own."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, compose_cfg, run_cli

from imbsweep.config import check_config
from imbsweep.data import Dataset, fold_count, load_dataset, split_dataset
from imbsweep.errors import ConfigError
from imbsweep.runner import run_seed
from imbsweep.tracking import Tracker


def _rows(ds, idx):
    return Dataset(ds.name, ds.X.iloc[idx].reset_index(drop=True), ds.y[idx])


def _keel(name="glass1"):
    cfg = compose_cfg(["dataset=keel", f"dataset.name={name}"])
    return cfg, load_dataset(cfg["dataset"])


def test_every_row_is_tested_exactly_once_per_repeat_and_repeats_differ():
    cfg, ds = _keel()
    sp = cfg["split"]
    assert sp["protocol"] == "kfold" and cfg["seeds"] == 3
    k = fold_count(ds, sp)
    by_seed = {}
    for seed in (0, 1):
        tests = [split_dataset(ds, sp, seed, fold=f) for f in range(k)]
        rows = np.concatenate([s.test for s in tests])
        assert np.array_equal(np.sort(rows), np.arange(len(ds.y)))  # once each
        for s in tests:
            assert not np.intersect1d(s.train, s.test).size
            assert len(s.train) + len(s.test) == len(ds.y)
            assert ds.y[s.test].sum() >= 1  # stratified: a minority row in every fold
        by_seed[seed] = tests[0].test
    assert not np.array_equal(by_seed[0], by_seed[1])  # a new fold assignment per repeat
    assert np.array_equal(split_dataset(ds, sp, 0, fold=0).test, by_seed[0])  # same seed, same


def test_folds_shrink_to_a_tiny_minority_and_one_row_is_refused(caplog):
    cfg, ds = _keel()
    tiny = _rows(ds, np.r_[np.flatnonzero(ds.y == 0)[:50], np.flatnonzero(ds.y == 1)[:3]])
    with caplog.at_level(logging.WARNING):
        assert fold_count(tiny, cfg["split"], warn=True) == 3
    assert "3 minority rows < split.folds=5: using 3 folds" in caplog.text
    one = _rows(ds, np.r_[np.flatnonzero(ds.y == 0)[:50], np.flatnonzero(ds.y == 1)[:1]])
    with pytest.raises(ConfigError, match="at least 2 minority rows"):
        fold_count(one, cfg["split"])


@pytest.mark.parametrize(
    "overrides, match",
    [
        (["split.protocol=loo"], "split.protocol='loo'"),
        (["split.folds=1"], "split.folds=1"),
        (["split.vary_with_seed=false"], "split.protocol=holdout"),
        (["split.holdout=0.4"], "split.holdout=0.4"),
    ],
)
def test_protocol_keys_that_disagree_are_refused_before_any_work(overrides, match):
    cfg = compose_cfg(["dataset=keel", "dataset.name=glass1", *overrides])
    with pytest.raises(ConfigError, match=match):
        check_config(cfg)


def test_tuning_sweeps_and_the_practical_keep_the_holdout_protocol():
    assert compose_cfg()["split"]["protocol"] == "holdout"
    assert compose_cfg()["seeds"] == 10
    # Every tuning sweep, on data whose default is k-fold, as a study's trial and final jobs
    # see it: a file that sets split.holdout without split.protocol fails here.
    sweeps = sorted(p.stem for p in (ROOT / "sweeps").glob("tune*.yaml"))
    assert {"tune_brf", "tune_prowsyn_rf", "tune_smote_variants"} <= set(sweeps)
    for sweep in sweeps:
        for stage in ("trial", "best"):
            cfg = compose_cfg(
                [f"sweeps={sweep}", "dataset=keel", "dataset.name=glass1", f"stage={stage}"]
            )
            assert cfg["split"]["protocol"] == "holdout", sweep
            check_config(cfg)


def test_a_fold_unit_fits_on_its_training_folds_only():
    cfg, ds = _keel()
    cfg["method"] = compose_cfg(["method=rf", "method.n_estimators=10"])["method"]
    m, _ = run_seed(cfg, ds, 0, Tracker(enabled=False), None, {}, fold=2)
    split = split_dataset(ds, cfg["split"], 0, fold=2)
    assert m["test_class0"] + m["test_class1"] == len(split.test)
    assert m["train_class0"] + m["train_class1"] == len(split.train)
    assert m["test_tp"] + m["test_fn"] == m["test_class1"]
    with pytest.raises(ValueError, match="unit.fold"):
        run_seed(cfg, ds, 0, Tracker(enabled=False), None, {})


@pytest.mark.slow
def test_a_kfold_sweep_logs_one_run_per_fold_and_pools_each_repeat(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    args = [
        "imbsweep",
        "method=naive,rf,brf",
        "dataset=keel",
        "dataset.name=glass1",
        "seeds=2",
        "method.n_estimators=10",
        "hydra/launcher=basic",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ]
    r = run_cli(args, tmp_path, uri)
    assert r.returncode == 0, r.stderr[-3000:]
    import mlflow

    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(search_all_experiments=True, max_results=1000)
    units = runs[runs["tags.run_level"] == "seed"]
    assert len(units) == 3 * 2 * 5
    assert not units.duplicated(["tags.job_key", "tags.seed", "tags.fold"]).any()
    # One repeat's folds test every row once: their test counts add up to the data.
    one = units[(units["tags.method"] == "rf") & (units["tags.seed"] == "0")]
    assert (one["metrics.test_class0"] + one["metrics.test_class1"]).sum() == 214
    table = pd.read_csv(tmp_path / "sweep" / "ranges.csv")
    assert set(table["interval"]) == {"corrected repeated k-fold t (Bouckaert & Frank 2004)"}
    assert (table["n_units"] == 10).all() and (table["n_seeds"] == 2).all()
    rf = table[(table["label"].str.startswith("rf")) & (table["metric"] == "minority_f1")]
    tp, fp, fn = (one[f"metrics.test_{c}"].sum() for c in ("tp", "fp", "fn"))
    seed1 = units[(units["tags.method"] == "rf") & (units["tags.seed"] == "1")]
    tp1, fp1, fn1 = (seed1[f"metrics.test_{c}"].sum() for c in ("tp", "fp", "fn"))
    pooled = np.mean([2 * tp / (2 * tp + fp + fn), 2 * tp1 / (2 * tp1 + fp1 + fn1)])
    assert rf["mean"].iloc[0] == pytest.approx(pooled)
    md = (tmp_path / "sweep" / "ranges.md").read_text()
    assert "repeated stratified 5-fold cross-validation, 2 repeats" in md
    assert "The remedy's own effect" in md and "brf" in md
    effects = pd.read_csv(tmp_path / "sweep" / "remedy_effects.csv")
    brf = effects[(effects["metric"] == "minority_f1") & effects["method"].str.startswith("brf")]
    assert list(brf["base"].str.split().str[0]) == ["rf"]
    assert "Wilcoxon" not in md  # within one dataset the splits overlap: no plain rank test


def test_small_synthetic_data_is_other_data_and_gets_kfold():
    cfg = compose_cfg(["dataset.n_samples=1000"])
    assert cfg["split"]["protocol"] == "kfold" and cfg["seeds"] == 3


def _unit_rows(label, method, values, **params):
    """Unit rows of one job as seed_rows reads them (params as logged strings)."""
    recs = []
    for i, v in enumerate(values):
        recs.append(
            {
                "dataset": "d",
                "stage": "run",
                "label": label,
                "job_id": label,
                "run_id": f"{label}-{i}",
                "seed": i // 5,
                "fold": i % 5,
                "minority_f1": v,
                "test_class0": 40,
                "test_class1": 4,
                "train_class0": 160,
                "train_class1": 16,
                "params.data.digest": "abc",
                "params.split.protocol": "kfold",
                "params.method.model": "mlp",
                "params.method.hidden_units": "16",
                **method,
                **params,
            }
        )
    return pd.DataFrame(recs)


def test_a_remedy_is_paired_with_its_own_model_on_the_same_test_rows_only():
    from imbsweep import remedies

    # Every method tests the same rows at a (seed, fold): the folds depend on data and seed only.
    cfg, ds = _keel()
    for seed, fold in ((0, 0), (1, 3)):
        rows = {
            split_dataset(
                ds, compose_cfg([f"method={m}", "dataset=keel"])["split"], seed, fold=fold
            ).test.tobytes()
            for m in ("rf", "smote_ann")
        }
        assert len(rows) == 1
    rng = np.random.default_rng(0)
    base = rng.uniform(0.4, 0.6, 10)
    ann = _unit_rows("ann", {"params.method.sampler": "none"}, base)
    tuned = _unit_rows(
        "ann_tuned", {"params.method.sampler": "none", "params.method.threshold": "tuned"}, base
    )
    smote = _unit_rows("smote_ann", {"params.method.sampler": "smote"}, base + 0.05)
    other_data = _unit_rows(
        "smote_ann2", {"params.method.sampler": "smote"}, base + 0.05, **{"params.data.digest": "x"}
    )
    wider = _unit_rows(
        "smote_ann_32",
        {"params.method.sampler": "smote", "params.method.hidden_units": "32"},
        base + 0.05,
    )
    # As read from MLflow: every params column on every row, NaN where a job did not log it.
    smote["params.method.k_neighbors"] = "5"
    eff = remedies.remedy_effects(pd.concat([ann, tuned, smote, other_data, wider]))
    assert set(zip(eff["method"], eff["base"], eff["threshold"], strict=True)) == {
        ("smote_ann", "ann", "0.5"),
        ("smote_ann", "ann_tuned", "tuned"),
    }
    assert eff["effect"].to_numpy() == pytest.approx([0.05, 0.05])
    assert (eff["remedy"] == "smote").all()
