"""The sweep report: paired comparisons, across-datasets tests and diagrams, from seed rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SMALL, compose_cfg
from scipy import stats as sps

from imbsweep import intervals, stats, tracking
from imbsweep.report import paired_comparisons, report, seed_rows
from imbsweep.runner import run_job


def _rows(n_ds: int = 1, seeds: int = 8, vary: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    out = []
    for d in range(n_ds):
        for seed in range(seeds):
            base = rng.normal(0.6, 0.03)  # the split's difficulty, shared by all methods
            for label, shift in (("a", 0.05), ("b", 0.0), ("c", -0.01)):
                out.append(
                    {
                        "dataset": f"d{d}",
                        "stage": "run",
                        "label": label,
                        "method": label,
                        "seed": seed,
                        "run_id": f"r{d}{seed}{label}",
                        "minority_f1": base + shift + rng.normal(0, 0.01),
                        "minority_precision": 0.5,
                        "minority_recall": 0.5,
                        "accuracy": 0.9,
                        "test_class0": 190,
                        "test_class1": 10,
                        "train_class0": 760,
                        "train_class1": 40,
                        "params.split.vary_with_seed": str(vary),
                        "params.data.digest": f"digest{d}",
                    }
                )
    return pd.DataFrame(out)


def test_paired_comparisons_use_the_corrected_test_and_holm():
    rows = _rows()
    p = paired_comparisons(rows, ["minority_f1"]).set_index(["method", "opponent"])
    assert len(p) == 3  # a-b, a-c, b-c
    a = rows[rows.label == "a"].set_index("seed")["minority_f1"]
    b = rows[rows.label == "b"].set_index("seed")["minority_f1"]
    ref = stats.corrected_ttest(a, b, 200 / 800)
    r = p.loc[("a", "b")]
    assert r["test"] == intervals.HOLDOUT
    assert r["p"] == pytest.approx(ref.pvalue)
    assert r["mean_diff"] == pytest.approx((a - b).mean())
    # The interval is the same corrected t's: it excludes 0 exactly when p < 0.05.
    half = sps.t.ppf(0.975, 7) * np.sqrt((1 / 8 + 0.25) * (a - b).var(ddof=1))
    assert (r["ci_low"], r["ci_high"]) == pytest.approx(
        ((a - b).mean() - half, (a - b).mean() + half)
    )
    assert list(p["p_holm"]) == pytest.approx(list(stats.holm(p["p"])))
    assert "p_wilcoxon" not in p  # overlapping splits: no signed-rank test within a dataset
    # One fixed split and no test predictions: the spread over model seeds only, said so.
    fixed = paired_comparisons(_rows(vary=False), ["minority_f1"])
    assert set(fixed["test"]) == {intervals.SEEDS_ONLY}
    # Different data is never paired.
    other = _rows()
    other.loc[other.label == "c", "params.data.digest"] = "elsewhere"
    assert len(paired_comparisons(other, ["minority_f1"])) == 1


def test_held_out_test_rows_get_the_more_conservative_correction():
    rows = _rows().assign(**{"params.split.holdout": "0.4", "params.split.test_size": "0.2"})
    p = paired_comparisons(rows, ["minority_f1"]).set_index(["method", "opponent"])
    r = p.loc[("a", "b")]
    # outer test sets share 0.2 / 0.4 of their rows: rho = 0.5, ratio rho / (1 - rho) = 1
    assert r["test"] == intervals.HELD_OUT
    a = rows[rows.label == "a"].set_index("seed")["minority_f1"]
    b = rows[rows.label == "b"].set_index("seed")["minority_f1"]
    assert r["p"] == pytest.approx(stats.corrected_ttest(a, b, 1.0).pvalue)
    assert r["p"] > paired_comparisons(_rows(), ["minority_f1"])["p"].iloc[0]
    from imbsweep.ranges import what_varied

    assert what_varied(rows) == "split (test rows held out) + model seed"


def test_multi_dataset_report_draws_one_reliability_panel_per_dataset(tmp_path, monkeypatch):
    import json

    import mlflow

    from imbsweep.evaluation import reliability

    rng = np.random.default_rng(0)
    asked = []

    def load_text(uri: str) -> str:
        if not uri.endswith("/reliability.json"):  # e.g. pr_curve.json: as if never logged
            raise OSError(f"no {uri} in this stand-in store")
        asked.append(uri)
        y = (rng.uniform(size=200) < 0.2).astype(int)
        return json.dumps(reliability(y, np.clip(y * 0.5 + rng.uniform(0, 0.5, 200), 0, 1)))

    monkeypatch.setattr(mlflow.artifacts, "load_text", load_text)
    rows = _rows(n_ds=3, seeds=2)
    files = report(rows, tmp_path, None, do_plot=True)
    assert files["reliability.png"].exists()
    assert len(asked) == len(rows)  # every run of every dataset, each in its own panel
    from PIL import Image

    w, h = Image.open(files["reliability.png"]).size
    assert w > 2.5 * h  # three panels side by side


def test_report_across_datasets_writes_tests_and_cd_diagram(tmp_path):
    # no run ids: nothing to read from MLflow (reliability has its own test)
    files = report(_rows(n_ds=6, seeds=3).drop(columns="run_id"), tmp_path, None, do_plot=True)
    for name in ("ranges.md", "paired.csv", "significance.csv", "cd_diagram.png", "ranks.csv"):
        assert name in files and files[name].exists(), name
    md = files["ranges.md"].read_text()
    assert "Iman-Davenport" in md and "Nemenyi critical difference" in md
    assert "Wilcoxon signed-rank" in md and "CI" in md
    sig = pd.read_csv(files["significance.csv"])
    assert {"p_wilcoxon", "p_holm", "p_nemenyi", "friedman_chi2"} <= set(sig.columns)


@pytest.mark.slow
def test_sweep_report_from_mlflow_has_params_pairs_and_reliability(store, tmp_path):
    sweep = tracking.Tracker().create_run("sweep", {tracking.TAG_LEVEL: "sweep"})
    for method in ("logreg", "rf"):
        cfg = compose_cfg([f"method={method}", "seeds=4", "sweeps=baselines", *SMALL])
        run_job(cfg, tracking.Tracker(), sweep)
    rows = seed_rows(sweep)
    assert len(rows) == 8 and rows["params.split.vary_with_seed"].eq("True").all()
    assert {"brier", "log_loss", "predicted_positives", "test_dup_rows"} <= set(rows.columns)
    files = report(rows, tmp_path, "practical", do_plot=True)
    md = files["ranges.md"].read_text()
    assert "Paired comparisons" in md and "corrected resampled" in md
    assert "The remedy's own effect" not in md  # logreg and rf: two models, no remedy
    assert "split + model seed" in md or "each seed drew its own" in md
    assert "Claims not applied" not in md or "data.digest" in md  # other setting: no verdicts
    assert "reliability.png" in files and files["reliability.png"].exists()
    assert (pd.read_csv(files["ranges.csv"])["vs_claim"] == "-").all()


def test_job_runs_carry_the_corrected_ci_of_each_mean():
    from imbsweep.runner import aggregate, unit_frame, unit_intervals

    seeds = [
        {"minority_f1": v, "fit_seconds": 1.0, "test_class0": 18, "test_class1": 2}
        | {"train_class0": 72, "train_class1": 8, "seed": s, "fold": None}
        for s, v in enumerate((0.5, 0.6, 0.7))
    ]
    cis = unit_intervals(unit_frame(seeds, {"vary_with_seed": True}))
    # A split per seed: Nadeau & Bengio's corrected t (1/3 + 20/80), not the plain t.
    half = sps.t.ppf(0.975, 2) * np.sqrt((1 / 3 + 0.25) * 0.01)
    assert cis["minority_f1"] == pytest.approx((0.6 - half, 0.6 + half))
    agg = aggregate([{k: v for k, v in m.items() if k != "fold"} for m in seeds], cis)
    assert (agg["minority_f1_ci_low"], agg["minority_f1_ci_high"]) == cis["minority_f1"]
    assert agg["minority_f1_std"] == pytest.approx(0.1)  # ddof=1
    assert "fit_seconds_ci_low" not in agg  # bookkeeping numbers get no interval
    assert agg["minority_f1"] == pytest.approx(0.6) and agg["fit_seconds"] == 1.0
    assert agg["fit_seconds_max"] == 1.0 and "minority_f1_mean" not in agg


def test_job_runs_spread_only_where_it_is_read():
    from imbsweep.runner import aggregate

    seeds = [
        {"val_brier": 0.1, "train_class1": 40.0, "predicted_positives": 0.0},
        {"val_brier": 0.3, "train_class1": 42.0, "predicted_positives": 5.0},
    ]
    agg = aggregate(seeds)
    assert agg["val_brier"] == pytest.approx(0.2) and "val_brier_std" in agg
    assert "val_brier_ci_high" not in agg  # intervals come from the protocol's own formula
    assert agg["train_class1"] == 41.0 and "train_class1_std" not in agg
    assert agg["n_seeds_no_positive"] == 1


def test_seed_rows_come_in_seed_order_within_each_job_whatever_the_schedule(store):
    """Workers finish units in any order; the table must add seeds up in one order."""
    t = tracking.Tracker()
    sweep = t.create_run("sweep", {tracking.TAG_LEVEL: "sweep"})
    jobs = {m: t.create_run(m, {tracking.TAG_LEVEL: "job"}, sweep) for m in ("a", "b")}
    for method, seed in [("b", 2), ("a", 1), ("b", 0), ("a", 2), ("a", 0), ("b", 1)]:
        tags = {
            tracking.TAG_LEVEL: "seed",
            tracking.TAG_SWEEP: sweep,
            tracking.TAG_LABEL: method,
            tracking.TAG_METHOD: method,
            tracking.TAG_DATASET: "d",
            tracking.TAG_SEED: str(seed),
        }
        run = t.create_run(f"{method} seed {seed}", tags, jobs[method])
        t.log_metrics(run, {"minority_f1": 0.1 * seed})
        t.end_run(run)
    rows = seed_rows(sweep)
    assert rows[["method", "seed"]].values.tolist() == [
        ["b", 0],
        ["b", 1],
        ["b", 2],
        ["a", 0],
        ["a", 1],
        ["a", 2],
    ]  # jobs in the order their first unit started, seeds ascending in each


def test_the_report_opens_with_the_answer_and_ranks_methods_by_the_headline(tmp_path):
    rows = _rows(seeds=8).drop(columns="run_id")
    files = report(rows, tmp_path, None, do_plot=False)
    md = files["ranges.md"].read_text()
    answer = md.split("### The answer")[1].split("### The table")[0]
    # "a" is 0.05 ahead of "b" on every split: the corrected test supports it.
    assert "**a** has the best minority_f1" in answer
    assert "It leads the runner-up, b, by +0.0" in answer and "a difference that holds" in answer
    table = md.split("### The table")[1]
    assert table.index("| a |") < table.index("| b |") < table.index("| c |")  # best first
    # b vs c (0.01 apart, noise 0.01 over 8 splits) is not a lead the test supports.
    close = report(rows[rows.label != "a"], tmp_path / "bc", None, do_plot=False)
    text = close["ranges.md"].read_text().split("### The table")[0]
    assert "not distinguishable" in text
    html = files["report.html"].read_text()
    assert html.index("The answer") < html.index("Ranges over seeds</h2>")
    # Another headline reorders: by Brier (lower is better) c comes first here.
    briered = rows.assign(brier=rows["label"].map({"a": 0.3, "b": 0.2, "c": 0.1}))
    md2 = report(briered, tmp_path / "brier", None, do_plot=False, metric="brier")
    assert "**c** has the best brier" in md2["ranges.md"].read_text()


def test_units_that_did_not_finish_are_counted_beside_the_table(tmp_path):
    rows = _rows(seeds=3).drop(columns="run_id").assign(job_id=lambda d: "job-" + d["label"])
    unfinished = pd.DataFrame(
        [
            {"label": "b", "dataset": "d0", "job_id": "job-b", "stage": "run", "seed": 3.0}
            | {"fold": np.nan, "kind": kind}
            for kind in ("timeout",)
        ]
        + [
            {"label": "b", "dataset": "d0", "job_id": "job-b", "stage": "run", "seed": 4.0}
            | {"fold": np.nan, "kind": "memory"}
        ]
    )
    files = report(rows, tmp_path, None, do_plot=False, unfinished=unfinished)
    md = files["ranges.md"].read_text()
    assert "### Units that did not finish" in md and "| b | 3 | 1 | 1 | 0 |" in md
    assert pd.read_csv(files["stopped_units.csv"])["label"].tolist() == ["b"]
    html = files["report.html"].read_text()
    # Right after the ranges it qualifies.
    assert html.index("Ranges over seeds</h2>") < html.index("Units that did not finish</h2>")
    assert "stopped_units.csv" not in report(rows, tmp_path / "all", None, do_plot=False)


@pytest.mark.slow
def test_remedy_effects_across_datasets_and_rank_tests_within_each_family(store, tmp_path):
    # Three bundled KEEL sets; two families, each with its base and remedies: logreg (+ class
    # weights) and the forest (+ class weights, + BRF's own balancing: three methods, Friedman).
    sweep = tracking.Tracker().create_run("sweep", {tracking.TAG_LEVEL: "sweep"})
    for name in ("glass1", "new_thyroid1", "ecoli1"):
        for method in ("logreg", "logreg_balanced", "rf", "rf_balanced", "brf"):
            cfg = compose_cfg(
                [f"method={method}", "dataset=keel", f"dataset.name={name}", "seeds=3"]
                + ["split.protocol=holdout", "method.n_estimators=10", "tracking.log_models=false"]
            )
            run_job(cfg, tracking.Tracker(log_models=False), sweep)
    rows = seed_rows(sweep)
    assert rows["dataset"].nunique() == 3 and len(rows) == 3 * 5 * 3
    files = report(rows, tmp_path, None, do_plot=False)
    name = rows.groupby("label")["params.method.name"].first()

    # Per dataset: the effect is the mean of the seeds' paired differences, inside its interval.
    eff = pd.read_csv(files["remedy_effects.csv"])
    f1 = eff[eff["metric"] == "minority_f1"]
    pairs = {(name[m], name[b]) for m, b in zip(f1["method"], f1["base"], strict=True)}
    assert pairs == {("logreg_balanced", "logreg"), ("rf_balanced", "rf"), ("brf", "rf")}
    assert (f1.groupby(["method", "base"]).size() == 3).all()  # on every dataset

    def diffs(dataset, a, b, metric="minority_f1"):
        on = rows[rows["dataset"] == dataset].set_index(["label", "seed"])[metric]
        return (on[a] - on[b]).to_numpy()

    for r in f1.itertuples():
        assert r.effect == pytest.approx(diffs(r.dataset, r.method, r.base).mean())
        assert r.ci_low <= r.effect <= r.ci_high and r.n_units == 3

    # Across datasets: the mean of the per-dataset effects, a plain t-interval over datasets,
    # counts of datasets whose interval excludes 0, Bayesian probabilities that sum to 1.
    across = pd.read_csv(files["remedy_effects_across.csv"])
    assert set(across["metric"]) == set(eff["metric"])
    a1 = across[across["metric"] == "minority_f1"]
    assert len(a1) == 3 and (a1["n_datasets"] == 3).all() and (a1["threshold"] == 0.5).all()
    for r in a1.itertuples():
        per = [diffs(d, r.method, r.base).mean() for d in rows["dataset"].unique()]
        assert r.mean_effect == pytest.approx(np.mean(per))
        half = sps.t.ppf(0.975, 2) * np.std(per, ddof=1) / np.sqrt(3)
        assert (r.ci_low, r.ci_high) == pytest.approx((np.mean(per) - half, np.mean(per) + half))
        mine = f1[(f1["method"] == r.method) & (f1["base"] == r.base)]
        assert r.helps == (mine["ci_low"] > 0).sum() and r.hurts == (mine["ci_high"] < 0).sum()
    probs = across[["p_bayes_helps", "p_bayes_equal", "p_bayes_hurts"]]
    assert ((probs >= 0) & (probs <= 1)).all().all()
    assert probs.sum(axis=1).to_numpy() == pytest.approx(np.ones(len(across)))
    brier = across[across["metric"] == "brier"]  # lower is better: helps = interval below 0
    for r in brier.itertuples():
        mine = eff[
            (eff["metric"] == "brier") & (eff["method"] == r.method) & (eff["base"] == r.base)
        ]
        assert r.helps == (mine["ci_high"] < 0).sum() and r.hurts == (mine["ci_low"] > 0).sum()

    # Within each family: Friedman over the forest's three methods (scipy's, on per-dataset
    # means), Wilcoxon for logreg's two; one line per family in the Markdown.
    fam = pd.read_csv(files["family_significance.csv"])
    assert set(fam["family"]) == {"logreg", "random_forest"}
    forest = [lab for lab in name.index if name[lab] in ("rf", "rf_balanced", "brf")]
    means = rows.pivot_table(index="dataset", columns="label", values="minority_f1")
    p = sps.friedmanchisquare(*[means[lab] for lab in forest]).pvalue
    assert fam.loc[fam["family"] == "random_forest", "friedman_p"].to_numpy() == pytest.approx(
        [p] * 3
    )
    assert fam.loc[fam["family"] == "logreg", "friedman_p"].isna().all()
    assert len(fam[fam["family"] == "logreg"]) == 1
    assert fam["p_wilcoxon"].between(0, 1).all()
    md = files["ranges.md"].read_text()
    assert f"over 3 datasets (Friedman p = {p:.3g})." in md
    (line,) = [ln for ln in md.splitlines() if ln.startswith("- logreg: mean ranks")]
    assert "over 3 datasets (Wilcoxon p = " in line
