"""The answer first: a few plain sentences per dataset above every table.

Which method is best on the headline metric (``report.metric``), with its interval; how far ahead
of the runner-up and of the best method without a remedy; and whether the lead holds under the
paired test that matches the protocol (Holm-adjusted, from :func:`imbsweep.report.
paired_comparisons`). A lead the test does not support is called "not distinguishable".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from imbsweep import remedies

LOWER_IS_BETTER = ("brier", "log_loss")
ALPHA = 0.05


def order(summary: pd.DataFrame, metric: str) -> list[tuple[str, list[str]]]:
    """Per dataset, the labels from best to worst mean on ``metric``."""
    s = summary[summary["metric"] == metric]
    out = []
    for ds, g in s.groupby("dataset", sort=False) if "dataset" in s else [("", s)]:
        asc = metric in LOWER_IS_BETTER
        out.append((str(ds), list(g.sort_values("mean", ascending=asc, kind="stable")["label"])))
    return out


def _pair(pairs: pd.DataFrame, ds: str, metric: str, a: str, b: str) -> pd.Series | None:
    if pairs is None or pairs.empty:
        return None
    p = pairs[pairs["metric"] == metric]
    if "dataset" in p:
        p = p[p["dataset"].astype(str) == ds]
    hit = p[(p["method"] == a) & (p["opponent"] == b)]
    if len(hit):
        return hit.iloc[0]
    hit = p[(p["method"] == b) & (p["opponent"] == a)]
    if len(hit):  # the other orientation: flip the difference
        r = hit.iloc[0].copy()
        r["mean_diff"], r["ci_low"], r["ci_high"] = -r["mean_diff"], -r["ci_high"], -r["ci_low"]
        return r
    return None


def _lead(pairs, ds, metric, best, other, what) -> str:
    r = _pair(pairs, ds, metric, best, other)
    if r is None:
        return f"{what} {other}: not paired (different splits), so no test."
    holds = np.isfinite(r["p_holm"]) and r["p_holm"] < ALPHA
    ci = f" (95% CI {r['ci_low']:+.3f} to {r['ci_high']:+.3f})" if np.isfinite(r["ci_low"]) else ""
    word = "a difference that holds" if holds else "not distinguishable"
    return f"{what} {other}, by {r['mean_diff']:+.3f}{ci}, p (Holm) = {r['p_holm']:.2g}: {word}."


def sentences(
    summary: pd.DataFrame, pairs: pd.DataFrame | None, rows: pd.DataFrame, metric: str
) -> str:
    """Markdown: one short paragraph per dataset (up to 12 datasets; the tables cover all)."""
    s = summary[summary["metric"] == metric]
    if s.empty:
        return ""
    known = "params.method.model" in rows  # which jobs use a remedy is read from their params
    first = {
        (str(r["dataset"]) if "dataset" in r else "", r["label"]): remedies.remedy(r)
        for r in rows.drop_duplicates(["dataset", "label"]).to_dict("records")
    }
    ranked = order(summary, metric)
    paras = []
    for ds, labels in ranked[:12]:
        g = s[s["dataset"].astype(str) == ds] if "dataset" in s else s
        g = g.set_index("label")
        best = labels[0]
        r = g.loc[best]
        ci = f" (95% CI {r['ci_low']:.3f}–{r['ci_high']:.3f})" if np.isfinite(r["ci_low"]) else ""
        where = f"On {ds}, " if ds else ""
        text = [f"{where}**{best}** has the best {metric}: {r['mean']:.3f}{ci}."]
        if len(labels) > 1:
            text.append(_lead(pairs, ds, metric, best, labels[1], "It leads the runner-up,"))
        plain = [
            lab for lab in labels if not first.get((ds, lab), "x") and not lab.startswith("naive")
        ]
        if not known:
            pass
        elif first.get((ds, best)) and plain:
            lead = "It leads the best method without a remedy,"
            text.append(_lead(pairs, ds, metric, best, plain[0], lead))
        elif not first.get((ds, best), "x"):
            text.append("It uses no remedy.")
        paras.append(" ".join(text))
    more = f"\n\n({len(ranked) - 12} more datasets in the tables.)" if len(ranked) > 12 else ""
    return "\n\n".join(paras) + more + "\n"
