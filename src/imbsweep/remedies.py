"""A remedy's own effect: each remedy against its own model without a remedy, on the same folds.

"SMOTE + net beats a forest" mixes the remedy with the model, and "SMOTE beats no remedy at
threshold 0.5" mixes it with the operating point (most of an oversampler's F1 gain can be a
threshold shift: Elor & Averbuch-Elor 2022). So a remedy job is compared with the jobs of the
same sweep that fit the same model, with the same model settings, and no remedy: at threshold
0.5 and, where the sweep has one, with a threshold tuned on out-of-fold scores of the training
rows (``method.threshold=tuned``). Pairs share seeds and folds, so the effect's interval is the
paired one of :mod:`imbsweep.intervals`.

What counts as a remedy (from the unit runs' ``params.method.*``): a sampler, class weights
(``class_weight=balanced``), focal loss, or a model that balances its own training rows
(BalancedRandomForest, ...: its no-remedy model is declared as ``base`` in its model file).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from imbsweep import intervals, stats
from imbsweep.evaluation import COUNTS
from imbsweep.pooling import repeat_rows

# Keys that are (part of) a remedy, or the operating point: not compared when matching models.
REMEDY_KEYS = {
    "sampler",
    "class_weight",
    "weight_scale",
    "loss",
    "focal_gamma",
    "focal_alpha",
    "threshold",
    "threshold_cv",
    "threshold_metric",
    "name",
    "sampling_strategy",
    "replacement",
    "bootstrap",
}
_P = "params.method."


def _value(row: dict, key: str, default: str = "") -> str:
    v = row.get(_P + key)
    return default if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


def family(row: dict) -> str:
    """The model without a remedy that a job's model belongs to (``mlp``, ``random_forest``)."""
    from imbsweep.methods.components import MODELS

    model = _value(row, "model")
    comp = MODELS.get(model)
    return comp.base or model if comp is not None else model


def remedy(row: dict) -> str:
    """What corrects the imbalance in a job ('' for none), e.g. ``smote``, ``class weights``."""
    from imbsweep.methods.components import MODELS

    parts = []
    if _value(row, "sampler", "none") not in ("none", ""):
        parts.append(_value(row, "sampler"))
    if _value(row, "class_weight", "none") == "balanced":
        parts.append("class weights")
    if _value(row, "loss", "bce") == "focal":
        parts.append("focal loss")
    comp = MODELS.get(_value(row, "model"))
    if comp is not None and comp.resamples_internally:
        parts.append(f"{_value(row, 'model')}'s own balancing")
    return " + ".join(parts)


def _model_settings(row: dict) -> dict[str, str]:
    """The method keys a job logged, but those of its remedy (NaN: a key it did not log)."""
    return {
        k[len(_P) :]: str(v)
        for k, v in row.items()
        if k.startswith(_P)
        and k[len(_P) :] not in REMEDY_KEYS
        and k != _P + "model"
        and not (v is None or (isinstance(v, float) and np.isnan(v)))
    }


def _same_model(a: dict, b: dict) -> bool:
    """Same model family and the same value for every model setting both jobs logged."""
    if family(a) != family(b):
        return False
    sa, sb = _model_settings(a), _model_settings(b)
    return all(sa[k] == sb[k] for k in sa.keys() & sb.keys())


def remedy_effects(
    rows: pd.DataFrame, metrics=("minority_f1",), predictions: dict | None = None
) -> pd.DataFrame:
    """Per dataset (and stage): every remedy job against each no-remedy job of its model.

    ``rows``: unit rows (:func:`imbsweep.report.seed_rows`). One row per (remedy, base, metric):
    ``threshold`` says the base's operating point (``0.5`` or ``tuned``), ``effect`` the mean
    paired difference (remedy minus base) with its interval and p-value (Holm-adjusted over one
    dataset's pairs of a metric).
    """
    keys = [k for k in ("dataset", "stage") if k in rows]
    # Only what a pair reads (the unit rows carry hundreds of params).
    keep = {*keys, "label", "job_id", "seed", "fold", "run_id", *metrics, *intervals.SPLIT_PARAMS}
    keep |= {*COUNTS, "test_class0", "test_class1", "train_class0", "train_class1"}
    rows = rows[[c for c in rows.columns if c in keep or c.startswith(_P)]]
    out = []
    for group, g in rows.groupby(keys, sort=False):
        ident = dict(zip(keys, group if isinstance(group, tuple) else (group,), strict=True))
        jobs = {lab: j for lab, j in g.groupby("label", sort=False)}
        reps = {lab: repeat_rows(j).set_index("seed") for lab, j in jobs.items()}
        first = {lab: j.iloc[0].to_dict() for lab, j in jobs.items()}
        bases = [lab for lab, r in first.items() if not remedy(r)]
        for metric in [m for m in metrics if m in g]:
            fam = []
            for lab, r in first.items():
                what = remedy(r)
                if not what:
                    continue
                for base in bases:
                    b = first[base]
                    if not _same_model(r, b) or not intervals.same_test_rows(jobs[lab], jobs[base]):
                        continue
                    both = (reps[lab][metric], reps[base][metric])
                    est = intervals.paired(jobs[lab], jobs[base], metric, predictions, repeats=both)
                    if not np.isfinite(est.mean):
                        continue
                    fam.append(
                        {
                            **ident,
                            "metric": metric,
                            "method": lab,
                            "remedy": what,
                            "model": family(r),
                            "base": base,
                            "threshold": "tuned" if _value(b, "threshold") == "tuned" else "0.5",
                            "effect": est.mean,
                            "ci_low": est.low,
                            "ci_high": est.high,
                            "p": est.p,
                            "n_units": est.n,
                            "test": est.method,
                        }
                    )
            if fam:
                f = pd.DataFrame(fam)
                f["p_holm"] = stats.holm(f["p"])
                out.append(f)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def across_datasets(effects: pd.DataFrame, rope: float = 0.01) -> pd.DataFrame:
    """Per (remedy method, base, metric) over datasets: mean effect, its 95% t-interval over
    datasets (datasets are independent samples, so no correction), win/loss counts and the
    Bayesian signed-rank probabilities that the remedy helps / is practically equal / hurts."""
    if effects.empty or effects["dataset"].nunique() < 2:
        return pd.DataFrame()
    out = []
    for (metric, method, base, thr), g in effects.groupby(
        ["metric", "method", "base", "threshold"], sort=False
    ):
        e = g["effect"].to_numpy(float)
        mean, lo, hi = stats.mean_ci(e)
        lower_better = metric in ("brier", "log_loss")
        better, equal, worse = (np.nan,) * 3
        if len(e) >= 2:
            better, equal, worse = stats.bayes_signed_rank(
                e, np.zeros_like(e), rope, higher_is_better=not lower_better
            )
        out.append(
            {
                "metric": metric,
                "method": method,
                "remedy": g["remedy"].iloc[0],
                "model": g["model"].iloc[0],
                "base": base,
                "threshold": thr,
                "n_datasets": len(e),
                "mean_effect": mean,
                "ci_low": lo,
                "ci_high": hi,
                "helps": int(((g["ci_low"] > 0) if not lower_better else (g["ci_high"] < 0)).sum()),
                "hurts": int(((g["ci_high"] < 0) if not lower_better else (g["ci_low"] > 0)).sum()),
                "rope": rope,
                "p_bayes_helps": better,
                "p_bayes_equal": equal,
                "p_bayes_hurts": worse,
            }
        )
    return pd.DataFrame(out)


def to_markdown(effects: pd.DataFrame, across: pd.DataFrame, metric: str = "minority_f1") -> str:
    """The remedy-effect table of one metric: per dataset (few datasets) or across datasets."""
    e = effects[effects["metric"] == metric] if not effects.empty else effects
    if e.empty:
        return ""
    lines = [
        f"Each remedy against its own model without a remedy, on the same seeds and folds "
        f"({metric}, remedy minus base; base at threshold 0.5 or with a threshold tuned on "
        "out-of-fold training scores). An effect that vanishes against the tuned base was a "
        "threshold shift, not a better model.",
        "",
    ]
    a = across[across["metric"] == metric] if not across.empty else across
    if not a.empty:
        lines += [
            f"Across {int(a['n_datasets'].max())} datasets: mean effect with its 95% t-interval "
            "over datasets; datasets where the per-dataset interval is above / below 0; "
            f"Bayesian signed-rank P(helps / within ±{a['rope'].iloc[0]:g} / hurts).",
            "",
            "| Remedy (method) | Base | Threshold | Datasets | Mean effect (95% CI) | "
            "Helps/hurts | P(helps/equal/hurts) |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in a.itertuples():
            lines.append(
                f"| {r.remedy} ({r.method}) | {r.base} | {r.threshold} | {r.n_datasets} | "
                f"{r.mean_effect:+.3f} ({r.ci_low:+.3f}, {r.ci_high:+.3f}) | {r.helps}/{r.hurts} "
                f"| {r.p_bayes_helps:.2f}/{r.p_bayes_equal:.2f}/{r.p_bayes_hurts:.2f} |"
            )
        return "\n".join(lines) + "\n"
    multi = e["dataset"].nunique() > 1
    head = (["Dataset"] if multi else []) + [
        "Remedy (method)",
        "Base",
        "Threshold",
        "Effect (95% CI)",
        "p (Holm)",
    ]
    lines += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in e.itertuples():
        ci = f" ({r.ci_low:+.3f}, {r.ci_high:+.3f})" if np.isfinite(r.ci_low) else ""
        cells = ([str(r.dataset)] if multi else []) + [
            f"{r.remedy} ({r.method})",
            str(r.base),
            r.threshold,
            f"{r.effect:+.3f}{ci}",
            f"{r.p:.3g} ({r.p_holm:.3g})",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
