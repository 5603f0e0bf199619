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
  - ``tie="ttest"``: a paired t-test over the seeds both ran (paired by seed: with
    ``split.vary_with_seed`` both saw the same split at a seed) is not significant at ``alpha``,
    or the means differ by at most ``tol``. A t-test, not Wilcoxon: with 5 seeds the signed-rank
    test cannot reach p < 0.0625, so it would call every pair a tie. With fewer than 3 paired
    seeds it falls back to ``tol``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

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


def _paired_p(a: pd.Series, b: pd.Series) -> float:
    """Two-sided paired t-test p-value over the seeds both have; NaN if not computable."""
    from scipy import stats

    both = pd.concat([a, b], axis=1, join="inner").dropna()
    if len(both) < 3:
        return float("nan")
    d = both.iloc[:, 0] - both.iloc[:, 1]
    if np.allclose(d, d.iloc[0]):
        # Constant differences: zero variance. Identical results are a tie; a constant non-zero
        # shift across every seed is as consistent as a difference gets.
        return 1.0 if np.isclose(d.iloc[0], 0.0) else 0.0
    return float(stats.ttest_rel(both.iloc[:, 0], both.iloc[:, 1]).pvalue)


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
    means = rows.pivot_table(index="dataset", columns="method", values=metric, aggfunc="mean")
    per_seed = rows.set_index(["dataset", "method", "seed"])[metric].sort_index()
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
                    p = _paired_p(per_seed.loc[(ds, a)], per_seed.loc[(ds, b)])
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
