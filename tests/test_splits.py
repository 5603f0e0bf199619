"""Split defaults: a stratified split per seed, except in the practical's own setting."""

from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import compose_cfg

from imbsweep.data import Dataset, load_dataset, split_dataset

HOLDOUT = {"protocol": "holdout"}  # a split per seed (k-fold: test_kfold.py)


def _synthetic(n: int = 1000) -> Dataset:
    return load_dataset(compose_cfg([f"dataset.n_samples={n}"])["dataset"])


def test_default_split_varies_with_the_seed_and_is_stratified():
    ds = _synthetic()
    a, b = split_dataset(ds, HOLDOUT, 0), split_dataset(ds, HOLDOUT, 1)
    assert not np.array_equal(a.test, b.test)
    assert np.array_equal(split_dataset(ds, HOLDOUT, 0).test, a.test)  # same seed, same split
    share = ds.y.mean()
    for s in (a, b):
        assert abs(ds.y[s.test].mean() - share) < 0.01


def test_practical_keeps_its_fixed_split_and_other_sweeps_vary():
    practical = compose_cfg()["split"]  # sweeps=practical is the default sweep
    assert (practical["vary_with_seed"], practical["stratify"]) == (False, False)
    ds = _synthetic()
    s0, s7 = split_dataset(ds, practical, 0), split_dataset(ds, practical, 7)
    assert np.array_equal(s0.test, s7.test)
    for sweep in ("baselines", "benchmark_keel"):
        sp = compose_cfg([f"sweeps={sweep}"])["split"]
        assert (sp["vary_with_seed"], sp["stratify"]) == (True, True), sweep


def test_default_sweep_varies_the_split_on_any_other_data():
    """The practical's fixed split belongs to its data: `imbsweep dataset=...` varies it."""
    keel = compose_cfg(["dataset=keel", "dataset.name=yeast3"])  # default sweep: practical
    assert (keel["split"]["vary_with_seed"], keel["split"]["stratify"]) == (True, True)
    ds = load_dataset(keel["dataset"])
    assert keel["split"]["protocol"] == "kfold"
    s0, s1 = (split_dataset(ds, keel["split"], seed, fold=0) for seed in (0, 1))
    assert not np.array_equal(s0.test, s1.test)
    # the synthetic set with any key changed is other data too
    for changed in ("dataset.n_samples=1000", "dataset.random_state=0", "dataset=fraud"):
        sp = compose_cfg([changed])["split"]
        assert (sp["vary_with_seed"], sp["stratify"]) == (True, True), changed
    # the practical's data with other methods or seeds keeps the practical's split
    sp = compose_cfg(["method=brf", "seeds=30"])["split"]
    assert (sp["vary_with_seed"], sp["stratify"]) == (False, False)
    # the command line wins either way
    assert compose_cfg(["split.vary_with_seed=true"])["split"]["vary_with_seed"] is True
    sp = compose_cfg(["dataset=keel", "split.vary_with_seed=false"])["split"]
    assert sp["vary_with_seed"] is False


def test_duplicates_across_the_split_are_counted_and_can_be_dropped():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=list("abc"))
    y = (rng.uniform(size=200) < 0.2).astype(np.int64)
    X = pd.concat([X, X.iloc[:50]], ignore_index=True)  # 50 rows twice
    y = np.concatenate([y, y[:50]])
    ds = Dataset(name="dups", X=X, y=y)
    s = split_dataset(ds, HOLDOUT, 0)
    assert s.dup_test_rows > 0
    assert s.dup_test_minority == int(ds.y[s.test][np.isin(s.test % 200, s.train % 200)].sum())
    d = split_dataset(ds, {**HOLDOUT, "drop_duplicates": True}, 0)
    assert d.dropped_duplicates == 50 and d.dup_test_rows == 0
    assert len(d.train) + len(d.test) == 200
    assert set(d.facts()) == {"test_dup_rows", "test_dup_minority", "dropped_duplicates"}
