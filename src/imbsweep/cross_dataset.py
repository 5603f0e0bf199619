"""Methods compared across datasets: mean rank and pairwise win / tie / loss counts.

Input: long-form per-seed rows, one per (dataset, method, seed), with one column per metric (as
the seed runs of a ``sweeps=benchmark_keel`` sweep give them).

- **Mean rank** (Demsar 2006): on each dataset the methods are ranked by their mean over seeds
  (1 = best, ties get the average rank), then the ranks are averaged over datasets. Only datasets
  on which every method has a value are ranked (a method that was skipped on a dataset would
  otherwise be compared on a different set of datasets); the others are listed in
  ``ranks.attrs["dropped_datasets"]``.
- **Win / tie / loss** of method A against B counts the datasets (where both have a value) on which
  A's mean is better, equivalent, or worse. Equivalent means:

  - ``tie="tol"`` (default): the two means differ by at most ``tol`` (absolute, in the metric's
    units; 0.01 = one point of F1).
  - ``tie="ttest"``: Nadeau & Bengio's corrected resampled t-test over the seeds both ran
    (paired by seed: both saw the same split at a seed) is not significant at ``alpha``, or the
    means differ by at most ``tol``. The plain paired t-test is anti-conservative on resampled
    splits (their training rows overlap); the correction uses n_test / n_train of the rows
    (``test_class*`` / ``train_class*`` columns when present, else 0.2 / 0.8). A t-test, not
    Wilcoxon: with 5 seeds the signed-rank test cannot reach p < 0.0625, so it would call every
    pair a tie. With fewer than 3 paired seeds it falls back to ``tol``.

- **Significance** (:func:`significance`, Demsar 2006): Friedman with Iman-Davenport on the
  per-dataset means, Nemenyi's all-pairs test and critical difference, Holm's step-down test of
  each method against the best-ranked one, and a Wilcoxon signed-rank test per pair across
  datasets (Holm-adjusted). All from :mod:`imbsweep.stats`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from imbsweep import stats

KEYS = ("dataset", "method", "seed")


def _check(rows: pd.DataFrame, metrics: list[str]) -> None:
    missing = [c for c in (*KEYS, *metrics) if c not in rows.columns]
    if missing:
        raise ValueError(
            f"rows lack column(s) {missing}; expected {list(KEYS)} and the metric columns "
            f"(got {list(rows.columns)})"
        )
    dup = rows.duplicated(list(KEYS))
    if dup.any():
        first = rows.loc[dup, list(KEYS)].iloc[0].tolist()
        raise ValueError(
            f"{int(dup.sum())} duplicate (dataset, method, seed) rows, e.g. {first}: "
            "keep one run per seed (e.g. the latest) before summarising"
        )


def mean_ranks(means: pd.DataFrame, higher_is_better: bool = True) -> tuple[pd.Series, list]:
    """Mean rank per method from a dataset x method table of per-dataset means."""
    complete = means.dropna(axis=0, how="any")
    dropped = sorted(set(means.index) - set(complete.index))
    ranks = complete.rank(axis=1, ascending=not higher_is_better, method="average")
    return ranks.mean(axis=0), dropped


def _paired_p(a: pd.Series, b: pd.Series, test_train_ratio: float = 0.25) -> float:
    """Corrected resampled t-test p-value over the seeds both have; NaN if not computable."""
    both = pd.concat([a, b], axis=1, join="inner").dropna()
    if len(both) < 3:
        return float("nan")
    return stats.corrected_ttest(both.iloc[:, 0], both.iloc[:, 1], test_train_ratio).pvalue


# The class counts every seed run logs, from which a split's test/train ratio follows.
CLASS_COUNTS = ("test_class0", "test_class1", "train_class0", "train_class1")


def test_train_ratio(rows: pd.DataFrame) -> pd.Series:
    """n_test / n_train per dataset from the logged class counts (0.25 where they are missing)."""
    if not set(CLASS_COUNTS) <= set(rows.columns):
        return pd.Series(0.25, index=rows["dataset"].unique())
    r = (rows["test_class0"] + rows["test_class1"]) / (rows["train_class0"] + rows["train_class1"])
    return r.groupby(rows["dataset"]).mean().fillna(0.25)


def win_tie_loss(
    rows: pd.DataFrame,
    metric: str,
    higher_is_better: bool = True,
    tie: str = "tol",
    tol: float = 0.01,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Long table: metric, method, opponent, win, tie, loss, n_datasets (both orientations)."""
    if tie not in ("tol", "ttest"):
        raise ValueError(f"tie={tie!r}: expected 'tol' or 'ttest'")
    if tie == "ttest" and "n_folds" in rows and rows["n_folds"].notna().any():
        # Repeats of k-fold share their rows: their spread is not a resampled t's spread.
        raise ValueError(
            "tie='ttest' needs holdout rows (a split per seed); these are k-fold repeats: "
            "use tie='tol', or imbsweep.report.paired_comparisons on the unit rows"
        )
    means = rows.pivot_table(index="dataset", columns="method", values=metric, aggfunc="mean")
    per_seed = rows.set_index(["dataset", "method", "seed"])[metric].sort_index()
    ratio = test_train_ratio(rows)
    methods = sorted(means.columns)
    sign = 1.0 if higher_is_better else -1.0
    out = []
    for a in methods:
        for b in methods:
            if a == b:
                continue
            w = t = lo = 0
            for ds, row in means.iterrows():
                ma, mb = row[a], row[b]
                if pd.isna(ma) or pd.isna(mb):
                    continue
                diff = sign * (ma - mb)
                equal = abs(ma - mb) <= tol
                if not equal and tie == "ttest":
                    p = _paired_p(per_seed.loc[(ds, a)], per_seed.loc[(ds, b)], ratio[ds])
                    equal = bool(p >= alpha) if not np.isnan(p) else False
                if equal:
                    t += 1
                elif diff > 0:
                    w += 1
                else:
                    lo += 1
            out.append(
                {
                    "metric": metric,
                    "method": a,
                    "opponent": b,
                    "win": w,
                    "tie": t,
                    "loss": lo,
                    "n_datasets": w + t + lo,
                }
            )
    return pd.DataFrame(
        out, columns=["metric", "method", "opponent", "win", "tie", "loss", "n_datasets"]
    )


def cross_dataset_summary(
    rows: pd.DataFrame,
    metric: str | Sequence[str],
    higher_is_better: bool = True,
    tie: str = "tol",
    tol: float = 0.01,
    alpha: float = 0.05,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(ranks, wtl)`` for one metric or several.

    ``ranks``: one row per method, one column per metric holding its mean rank (1 = best), and
    ``n_datasets`` (the complete datasets ranked, per metric the fewest); sorted by the first
    metric's rank. ``ranks.attrs["dropped_datasets"]`` maps each metric to the datasets left out
    because some method has no value there.

    ``wtl``: one row per (metric, method, opponent) with win / tie / loss counts over the datasets
    where both have a value (see the module docstring for what counts as a tie).
    """
    metrics = [metric] if isinstance(metric, str) else list(metric)
    if not metrics:
        raise ValueError("metric: give at least one metric column")
    _check(rows, metrics)
    cols = {}
    dropped = {}
    n_used = []
    for m in metrics:
        means = rows.pivot_table(
            index="dataset", columns="method", values=m, aggfunc="mean", dropna=False
        )
        # Every method seen in the rows, even one whose values are all missing for this metric.
        means = means.reindex(columns=sorted(rows["method"].unique()))
        cols[m], dropped[m] = mean_ranks(means, higher_is_better)
        n_used.append(len(means) - len(dropped[m]))
    ranks = pd.DataFrame(cols)
    ranks["n_datasets"] = min(n_used)
    ranks.index.name = "method"
    ranks = ranks.sort_values(metrics[0], kind="stable")
    ranks.attrs["dropped_datasets"] = dropped
    wtl = pd.concat(
        [win_tie_loss(rows, m, higher_is_better, tie, tol, alpha) for m in metrics],
        ignore_index=True,
    )
    return ranks, wtl


# Metrics compared across datasets in a sweep's report (all: higher is better).
REPORT_METRICS = (
    "minority_f1",
    "minority_recall",
    "minority_precision",
    "balanced_accuracy",
    "average_precision",
    "roc_auc",
)


def to_markdown(ranks: pd.DataFrame, wtl: pd.DataFrame, metric: str = "minority_f1") -> str:
    """Mean ranks per metric, then a win/tie/loss matrix (row vs column) for ``metric``."""
    metrics = [c for c in ranks.columns if c != "n_datasets"]
    n = int(ranks["n_datasets"].iloc[0]) if len(ranks) else 0
    lines = [
        f"Mean rank over {n} datasets (1 = best; ties share the average rank):",
        "",
        "| Method | " + " | ".join(metrics) + " |",
        "| --- |" + " --- |" * len(metrics),
    ]
    for method, r in ranks.iterrows():
        lines.append(f"| {method} | " + " | ".join(f"{r[m]:.2f}" for m in metrics) + " |")
    w = wtl[wtl["metric"] == metric]
    order = list(ranks.index)
    lines += [
        "",
        f"Wins / ties / losses on {metric} (row against column, per dataset mean; a tie is a "
        "difference of at most 0.01):",
        "",
        "| | " + " | ".join(order) + " |",
        "| --- |" + " --- |" * len(order),
    ]
    for a in order:
        cells = []
        for b in order:
            hit = w[(w["method"] == a) & (w["opponent"] == b)]
            cells.append("—" if a == b or hit.empty else "{win}/{tie}/{loss}".format(**hit.iloc[0]))
        lines.append(f"| {a} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def significance(
    rows: pd.DataFrame,
    metric: str,
    higher_is_better: bool = True,
    alpha: float = 0.05,
    rope: float = 0.01,
) -> dict:
    """Demsar's tests on the dataset x method table of per-dataset means of ``metric``.

    Returns ``friedman`` (:class:`imbsweep.stats.Friedman`), ``nemenyi`` (p-value matrix),
    ``cd`` (Nemenyi's critical difference of mean ranks at ``alpha``), ``holm`` (each method
    against the best-ranked), ``wilcoxon`` (per pair across datasets, Holm-adjusted, with the
    Bayesian signed-rank probabilities ``p_bayes_better`` / ``p_bayes_rope`` / ``p_bayes_worse``
    for the region of practical equivalence ``rope``) and ``dropped`` (datasets where some
    method has no value).
    """
    _check(rows, [metric])
    means = rows.pivot_table(
        index="dataset", columns="method", values=metric, aggfunc="mean", dropna=False
    ).reindex(columns=sorted(rows["method"].unique()))
    complete = means.dropna(axis=0, how="any")
    f = stats.friedman(complete, higher_is_better)
    nem, cd = stats.nemenyi(complete, higher_is_better, alpha)
    pairs = []
    cols = list(complete.columns)
    for i, a in enumerate(cols):
        for b in cols[i + 1 :]:
            d = complete[a] - complete[b]
            pairs.append(
                {
                    "metric": metric,
                    "method": a,
                    "opponent": b,
                    "n_datasets": len(d),
                    "mean_diff": float(d.mean()),
                    "wins": int((d > 0).sum() if higher_is_better else (d < 0).sum()),
                    "losses": int((d < 0).sum() if higher_is_better else (d > 0).sum()),
                    "p_wilcoxon": stats.wilcoxon(complete[a], complete[b]),
                    **_bayes(complete[a], complete[b], rope, higher_is_better),
                }
            )
    wil = pd.DataFrame(pairs)
    if not wil.empty:
        wil["p_holm"] = stats.holm(wil["p_wilcoxon"])
    return {
        "metric": metric,
        "friedman": f,
        "nemenyi": nem,
        "cd": cd,
        "alpha": alpha,
        "holm": stats.holm_vs_control(f.avg_ranks, f.n_datasets),
        "wilcoxon": wil,
        "dropped": sorted(set(means.index) - set(complete.index)),
    }


def _bayes(a, b, rope: float, higher_is_better: bool) -> dict:
    better, within, worse = (math.nan,) * 3
    if len(a) >= 2:
        better, within, worse = stats.bayes_signed_rank(a, b, rope, higher_is_better)
    return {"rope": rope, "p_bayes_better": better, "p_bayes_rope": within, "p_bayes_worse": worse}


def significance_markdown(sig: dict) -> str:
    """The tests of :func:`significance` as Markdown, naming each test and what it says."""
    f, m, a = sig["friedman"], sig["metric"], sig["alpha"]
    ranks = f.avg_ranks.sort_values()
    lines = [
        f"Significance on {m} over {f.n_datasets} datasets (Demsar 2006; per-dataset means):",
        "",
    ]
    if np.isfinite(f.chi2):
        verdict = "the methods differ" if f.pvalue_id < a else "no difference detected"
        lines.append(
            f"- Friedman chi2 = {f.chi2:.2f} (p = {f.pvalue:.3g}); Iman-Davenport F = "
            f"{f.iman_davenport:.2f} (p = {f.pvalue_id:.3g}): {verdict} at alpha = {a}."
        )
    lines.append(
        f"- Nemenyi critical difference of mean ranks: {sig['cd']:.2f} at alpha = {a} "
        "(all pairs; conservative: it can miss differences the Wilcoxon test below finds)."
    )
    best = ranks.index[0]
    lines += [
        "",
        f"Each method against the best-ranked ({best}), z-test on mean ranks, Holm-adjusted:",
        "",
        "| Method | Mean rank | Rank diff | p | p (Holm) | Nemenyi p |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    h = sig["holm"].set_index("method")
    for meth in ranks.index:
        if meth == best:
            lines.append(f"| {meth} | {ranks[meth]:.2f} | — | — | — | — |")
            continue
        r = h.loc[meth]
        lines.append(
            f"| {meth} | {ranks[meth]:.2f} | {r['rank_diff']:+.2f} | {r['p']:.3g} | "
            f"{r['p_holm']:.3g} | {sig['nemenyi'].loc[best, meth]:.3g} |"
        )
    w = sig["wilcoxon"]
    if not w.empty:
        lines += [
            "",
            "Every pair across datasets, Wilcoxon signed-rank on the per-dataset means "
            "(wins/losses: datasets where the first is better/worse), Holm-adjusted; and "
            "Benavoli et al.'s Bayesian signed-rank test (baycomp): the probabilities that the "
            f"first is better / both are within ±{w['rope'].iloc[0]:g} (practically equal) / "
            "the second is better:",
            "",
            "| Pair | Datasets | Wins/losses | Mean diff | p | p (Holm) | P(better/equal/worse) |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in w.itertuples():
            lines.append(
                f"| {r.method} vs {r.opponent} | {r.n_datasets} | {r.wins}/{r.losses} | "
                f"{r.mean_diff:+.3f} | {r.p_wilcoxon:.3g} | {r.p_holm:.3g} | "
                f"{r.p_bayes_better:.2f}/{r.p_bayes_rope:.2f}/{r.p_bayes_worse:.2f} |"
            )
    if sig["dropped"]:
        lines += ["", f"Left out (a method has no value there): {', '.join(sig['dropped'])}."]
    return "\n".join(lines) + "\n"
