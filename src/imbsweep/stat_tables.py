"""The statistics tables as a person reads them: one comparison per row, the verdict first.

The CSV files (``paired.csv``, ``remedy_effects.csv``, ``significance.csv``) keep every column
for scripts; the views here are what ``report.html`` shows and ``imbsweep-report --format``
exports: a verdict column ("A better", "helps", "not distinguishable") decided on the
Holm-adjusted p-value, the difference with its interval in one cell, and no column that is the
same on every row (such a column is said once, above the table).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from imbsweep.verdict import ALPHA, LOWER_IS_BETTER

NOT_DISTINGUISHABLE = "not distinguishable"


@dataclass
class View:
    """One readable table: string cells, verdict column first."""

    frame: pd.DataFrame
    # Columns with one value on every row, said once (column -> value).
    constant: dict[str, str] = field(default_factory=dict)

    def caption(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in self.constant.items())


def _num(x: float, fmt: str = ".3g") -> str:
    return "" if x is None or not np.isfinite(x) else format(x, fmt)


def _diff(mean: float, low: float, high: float) -> str:
    if not np.isfinite(mean):
        return ""
    ci = f" ({low:+.3f}, {high:+.3f})" if np.isfinite(low) and np.isfinite(high) else ""
    return f"{mean:+.3f}{ci}"


def _holds(p_holm: float) -> bool:
    return bool(np.isfinite(p_holm) and p_holm < ALPHA)


def _better(metric: str, a: str, b: str, diff: float, p_holm: float) -> str:
    """Who is ahead when the adjusted test supports it, else "not distinguishable"."""
    if not np.isfinite(p_holm):
        return "no test"
    if not _holds(p_holm):
        return NOT_DISTINGUISHABLE
    ahead = diff < 0 if metric in LOWER_IS_BETTER else diff > 0
    return f"{a if ahead else b} better"


def _finish(recs: list[dict], keep: tuple[str, ...]) -> View:
    """Drop columns that are constant (or empty) on every row, except ``keep``."""
    df = pd.DataFrame(recs)
    constant = {}
    for c in list(df.columns):
        values = set(df[c].astype(str))
        if c in keep or len(df) < 2 or len(values) > 1:
            continue
        value = values.pop()
        if value:
            constant[c] = value
        df = df.drop(columns=c)
    if len(df) < 2:  # one row: nothing is "constant", but empty cells still say nothing
        df = df[[c for c in df.columns if c in keep or df[c].astype(str).ne("").any()]]
    return View(df.reset_index(drop=True), constant)


def _headline_first(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    if "metric" not in df:
        return df
    first = (df["metric"] != metric).astype(int)
    return df.assign(_o=first).sort_values("_o", kind="stable").drop(columns="_o")


def paired(df: pd.DataFrame, metric: str = "minority_f1") -> View:
    """``paired.csv``: each pair of methods on one dataset and metric."""
    recs = []
    for r in _headline_first(df, metric).to_dict("records"):
        recs.append(
            {
                "Verdict": _better(
                    r["metric"], r["method"], r["opponent"], r["mean_diff"], r["p_holm"]
                ),
                "Dataset": str(r.get("dataset", "")),
                "Stage": str(r.get("stage", "")),
                "Metric": r["metric"],
                "Comparison": f"{r['method']} vs {r['opponent']}",
                "Diff (95% CI)": _diff(r["mean_diff"], r["ci_low"], r["ci_high"]),
                "Seeds": str(r["n_seeds"]),
                "Units": str(r["n_units"]),
                "Wins/losses": f"{r['wins']}/{r['losses']}",
                "p": _num(r["p"]),
                "p (Holm)": _num(r["p_holm"]),
                "Test": str(r["test"]),
            }
        )
    return _finish(recs, keep=("Verdict", "Comparison", "Diff (95% CI)", "p (Holm)"))


def remedy_effects(df: pd.DataFrame, metric: str = "minority_f1") -> View:
    """``remedy_effects.csv``: each remedy against its own model without one."""
    recs = []
    for r in _headline_first(df, metric).to_dict("records"):
        if not np.isfinite(r["p_holm"]):
            word = "no test"
        elif not _holds(r["p_holm"]):
            word = NOT_DISTINGUISHABLE
        else:
            helps = r["effect"] < 0 if r["metric"] in LOWER_IS_BETTER else r["effect"] > 0
            word = "helps" if helps else "hurts"
        recs.append(
            {
                "Verdict": word,
                "Dataset": str(r.get("dataset", "")),
                "Stage": str(r.get("stage", "")),
                "Metric": r["metric"],
                "Remedy (method)": f"{r['remedy']} ({r['method']})",
                "Model": str(r["model"]),
                "Against": f"{r['base']} at threshold {r['threshold']}",
                "Effect (95% CI)": _diff(r["effect"], r["ci_low"], r["ci_high"]),
                "Units": str(r["n_units"]),
                "p": _num(r["p"]),
                "p (Holm)": _num(r["p_holm"]),
                "Test": str(r["test"]),
            }
        )
    return _finish(recs, keep=("Verdict", "Remedy (method)", "Effect (95% CI)", "p (Holm)"))


def significance(df: pd.DataFrame, metric: str = "minority_f1") -> tuple[View, View]:
    """``significance.csv``: the omnibus tests per metric, then each pair across datasets."""
    df = _headline_first(df, metric)
    omni = []
    for m, g in df.groupby("metric", sort=False):
        r = g.iloc[0]
        omni.append(
            {
                "Verdict": "the methods differ"
                if _holds(r["iman_davenport_p"])
                else "no difference detected",
                "Metric": m,
                "Friedman chi2": _num(r["friedman_chi2"], ".2f"),
                "p (Friedman)": _num(r["friedman_p"]),
                "Iman-Davenport F": _num(r["iman_davenport_f"], ".2f"),
                "p (Iman-Davenport)": _num(r["iman_davenport_p"]),
                "Nemenyi CD": _num(r["nemenyi_cd"], ".2f"),
            }
        )
    pairs = []
    for r in df.to_dict("records"):
        pairs.append(
            {
                "Verdict": _better(
                    r["metric"], r["method"], r["opponent"], r["mean_diff"], r["p_holm"]
                ),
                "Metric": r["metric"],
                "Comparison": f"{r['method']} vs {r['opponent']}",
                "Datasets": str(r["n_datasets"]),
                "Mean diff": _diff(r["mean_diff"], np.nan, np.nan),
                "Wins/losses": f"{r['wins']}/{r['losses']}",
                "p (Wilcoxon)": _num(r["p_wilcoxon"]),
                "p (Holm)": _num(r["p_holm"]),
                "p (Nemenyi)": _num(r["p_nemenyi"]),
                "P(better/equal/worse)": (
                    f"{r['p_bayes_better']:.2f}/{r['p_bayes_rope']:.2f}/{r['p_bayes_worse']:.2f}"
                    if np.isfinite(r.get("p_bayes_better", np.nan))
                    else ""
                ),
            }
        )
    keep = ("Verdict", "Comparison", "Mean diff", "p (Holm)")
    return _finish(omni, keep=("Verdict", "Metric")), _finish(pairs, keep=keep)
