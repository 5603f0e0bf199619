"""The ranges table: per method, the spread over seeds of the minority-class metrics.

Input is long-form unit rows (one per unit run: a seed, or a fold of a seed's k-fold repeat);
output is a summary frame, rendered as Markdown and CSV: min-max and mean +- sample std (ddof=1)
over seeds (a k-fold repeat's value pooled from its folds), and the 95% interval of the mean
that matches how the test rows were drawn (:mod:`imbsweep.intervals`), with what varied across
the seeds, and, where a claim was made for the same data and setting, the claim and the verdict
of the mean's interval against it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from imbsweep import intervals
from imbsweep.pooling import repeat_rows
from imbsweep.stats import sample_std

# The four metrics of the practical's table, with their column headings.
TABLE_METRICS = {
    "minority_precision": "Class 1 Precision",
    "minority_recall": "Class 1 Recall",
    "minority_f1": "Class 1 F1",
    "accuracy": "Accuracy",
}
CONFIDENCE = 0.95


def load_claims(name_or_path: str | None) -> dict:
    """A claims file: ``{"source", "applies_to", "methods"}``; a bundled name or a YAML path.

    ``applies_to`` (top level and per method) maps run params (e.g. ``data.digest``,
    ``split.vary_with_seed``, ``method.epochs``) to the values the claim was made for.
    """
    if not name_or_path:
        return {}
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.exists():
        text = p.read_text()
    else:
        ref = resources.files("imbsweep") / "claims" / f"{name_or_path}.yaml"
        if not ref.is_file():
            from imbsweep.errors import ConfigError

            bundled = sorted(
                f.name.removesuffix(".yaml")
                for f in (resources.files("imbsweep") / "claims").iterdir()
            )
            raise ConfigError("report.claims", name_or_path, f"a YAML path or one of {bundled}")
        text = ref.read_text()
    doc = yaml.safe_load(text) or {}
    if not doc.get("applies_to"):
        from imbsweep.errors import ConfigError

        raise ConfigError(
            "report.claims",
            name_or_path,
            "a claims file with an `applies_to` mapping (at least data.digest)",
            "a claim is checked only on the data and setting it was made for",
        )
    return {
        "source": doc.get("source", str(name_or_path)),
        "applies_to": dict(doc["applies_to"]),
        "methods": doc.get("methods", {}),
    }


OTHER_DATA = "other data: "  # why a claim was not applied, when the data is not its data


def _same(claimed, logged) -> bool:
    """A claimed value against a logged param (MLflow params are strings)."""
    if logged is None or (isinstance(logged, float) and math.isnan(logged)):
        return False
    if isinstance(claimed, bool) or isinstance(logged, bool):
        return str(claimed).lower() == str(logged).lower()
    try:
        return math.isclose(float(claimed), float(logged), rel_tol=1e-9, abs_tol=1e-12)
    except (TypeError, ValueError):
        return str(claimed) == str(logged)


def claim_for(claims: dict, method: str, params: dict) -> tuple[dict | None, str]:
    """The method's claim if it applies to runs with these params, else ``(None, why not)``."""
    if not claims:
        return None, ""
    mc = claims.get("methods", {}).get(method)
    if mc is None:
        return None, f"no claim for {method}"
    need = {**claims.get("applies_to", {}), **mc.get("applies_to", {})}
    # The data first: a claim about other data is not worth a line (a user's CSV, a KEEL set).
    need = dict(sorted(need.items(), key=lambda kv: not kv[0].startswith("data.")))
    for key, want in need.items():
        if not _same(want, params.get(f"params.{key}")):
            got = params.get(f"params.{key}")
            other = OTHER_DATA if key.startswith("data.") else ""
            return None, f"{other}{key}={got} (the claim is for {want})"
    return {k: v for k, v in mc.items() if k != "applies_to"}, ""


def what_varied(g: pd.DataFrame) -> str:
    """From the runs' params: did the split change with the seed, or only the model's seed?"""
    if intervals.protocol(g) == "kfold":
        folds = g.groupby("seed")["fold"].nunique()
        k = int(folds.max()) if len(folds) else 0
        return f"{k}-fold x {g['seed'].nunique()} repeats + model seed"
    col = "params.split.vary_with_seed"
    if col not in g or g[col].isna().all():
        return "-"
    vary = {str(v).lower() for v in g[col].dropna()}
    if vary == {"true"}:
        hold = pd.to_numeric(g.get("params.split.holdout", pd.Series(dtype=float)), errors="coerce")
        if (hold > 0).any():
            return "split (test rows held out) + model seed"
        return "split + model seed"
    if vary == {"false"}:
        return "model seed (one split)"
    return "mixed"


def summarize(
    rows: pd.DataFrame,
    claims: dict | None = None,
    predictions: dict | None = None,
    metrics: Sequence[str] = tuple(TABLE_METRICS),
) -> pd.DataFrame:
    """One row per (label, metric): n_seeds, n_units, min, max, mean, std, ci_low, ci_high,
    interval, varied, claim and verdict.

    ``rows`` (unit rows) needs columns ``label``, ``method`` and the metric columns; ``dataset``
    is kept when present; ``params.*`` columns (as :func:`imbsweep.report.seed_rows` reads them)
    decide whether a claim applies, what varied and which interval applies. min, max, mean and
    std are over seeds (k-fold repeats pooled); std is the sample std (ddof=1), 0 for one seed.
    ``predictions``: test predictions by run id, for a fixed split's bootstrap interval.
    """
    claims = claims or {}
    keys = [c for c in ("dataset", "label", "method") if c in rows.columns]
    out = []
    skipped: dict[str, str] = {}
    for group, g in rows.groupby(keys, sort=False):
        ident = dict(zip(keys, group if isinstance(group, tuple) else (group,), strict=True))
        # Every run of a group shares its params, but the claim must fit each of them.
        claim, why = None, ""
        if claims:
            checks = [claim_for(claims, ident["method"], r) for r in g.to_dict("records")]
            claim, why = checks[0]
            bad = next((w for c, w in checks if c is None), "")
            if bad:
                claim, why = None, bad
            # Said only for the claim's own data in another setting (other data: nothing).
            if claim is None and why and not why.startswith(("no claim", OTHER_DATA)):
                skipped[" ".join(str(v) for v in ident.values())] = why
        varied = what_varied(g)
        reps = repeat_rows(g)
        for metric in metrics:
            if metric not in g:
                continue
            v = reps[metric].astype(float).to_numpy()
            est = intervals.estimate(g, metric, predictions, CONFIDENCE, repeats=reps)
            m, lo_ci, hi_ci = est.mean, est.low, est.high
            c = claim.get(metric) if claim else None
            out.append(
                {
                    **ident,
                    "metric": metric,
                    "n_seeds": len(v),
                    "n_units": len(g),
                    "varied": varied,
                    "min": float(np.nanmin(v)),
                    "max": float(np.nanmax(v)),
                    "mean": m,
                    "std": sample_std(v[np.isfinite(v)]),
                    "ci_low": lo_ci,
                    "ci_high": hi_ci,
                    "interval": est.method,
                    "claim_low": c[0] if c else np.nan,
                    "claim_high": c[1] if c else np.nan,
                    "vs_claim": verdict(lo_ci, hi_ci, c, m),
                }
            )
    df = pd.DataFrame(out)
    df.attrs["claims_skipped"] = skipped
    df.attrs["claims_source"] = claims.get("source", "") if claims else ""
    return df


def verdict(lo: float, hi: float, claim: list[float] | None, mean: float | None = None) -> str:
    """The confidence interval of the mean ``[lo, hi]`` against the claimed range.

    ``inside`` (the CI lies within the claim), ``outside`` (no overlap: the mean differs from
    every claimed value at the 5% level), ``overlaps``, or ``-`` (no claim applies). With one
    seed there is no CI and the mean stands in for it.
    """
    if not claim:
        return "-"
    if (lo is None or math.isnan(lo)) and mean is not None:
        lo = hi = mean
    c_lo, c_hi = claim
    eps = 1e-9
    if lo >= c_lo - eps and hi <= c_hi + eps:
        return "inside"
    if hi < c_lo - eps or lo > c_hi + eps:
        return "outside"
    return "overlaps"


def to_markdown(summary: pd.DataFrame) -> str:
    """Measured table (min–max, mean ± sd, CI) and, where claims apply, the claim comparison."""
    if summary.empty:
        return "_no finished seed runs_\n"
    keys = [c for c in ("dataset", "label") if c in summary.columns]
    multi_ds = "dataset" in keys and summary["dataset"].nunique() > 1
    varied = summary["varied"].unique() if "varied" in summary else np.array(["-"])
    one_varied = len(varied) == 1
    head = (["Dataset"] if multi_ds else []) + ["Method", "Seeds"]
    head += [] if one_varied else ["Varied"]
    head += list(TABLE_METRICS.values())
    lines = [_row(head), _row(["---"] * len(head))]
    claim_lines = []
    for group, g in summary.groupby(keys, sort=False):
        g = g.set_index("metric")
        ident = list(group) if isinstance(group, tuple) else [group]
        ident = ident if multi_ds else ident[-1:]
        cells, ccells = [], []
        for m in TABLE_METRICS:
            if m not in g.index:
                cells.append("")
                ccells.append("")
                continue
            r = g.loc[m]
            ci = (
                f"; CI {r['ci_low']:.3f}–{r['ci_high']:.3f}"
                if "ci_low" in r and np.isfinite(r["ci_low"])
                else ""
            )
            cells.append(f"{r['min']:.3f}–{r['max']:.3f} ({r['mean']:.3f} ± {r['std']:.3f}{ci})")
            if r["vs_claim"] != "-":
                ccells.append(f"{r['claim_low']:.2f}–{r['claim_high']:.2f}: {r['vs_claim']}")
            else:
                ccells.append("-")
        n = int(g["n_seeds"].iloc[0])
        extra = [] if one_varied else [str(g["varied"].iloc[0])]
        lines.append(_row(ident + [str(n)] + extra + cells))
        if any(c not in ("-", "") for c in ccells):
            claim_lines.append(_row(ident + [str(n)] + extra + ccells))
    what = (
        {
            "split + model seed": "each seed drew its own stratified split and seeded the model",
            "split (test rows held out) + model seed": "each seed drew its own test rows from "
            "the held-out share a tuning study never saw (split.holdout), trained on the rest "
            "and seeded the model",
            "model seed (one split)": "only the model's seed varied; one fixed split for every "
            "seed, so the spread says nothing about other splits",
        }.get(str(varied[0]), _kfold_words(str(varied[0])))
        if one_varied
        else "see the Varied column"
    )
    kinds = sorted({str(k) for k in summary.get("interval", pd.Series(dtype=str)) if k})
    text = (
        f"Per cell: min–max over seeds (mean ± sample sd; CI = {CONFIDENCE:.0%} interval of the "
        f"mean: {' / '.join(kinds) or 'none'}). What varied across seeds: {what}.\n\n"
    )
    text += "\n".join(lines) + "\n"
    if claim_lines:
        src = summary.attrs.get("claims_source", "")
        text += (
            f"\nClaimed ranges ({src}) and where the CI of the measured mean lies against them "
            "(inside / overlaps / outside):\n\n"
        )
        text += "\n".join([_row(head), _row(["---"] * len(head)), *claim_lines]) + "\n"
    skipped = summary.attrs.get("claims_skipped") or {}
    if skipped:
        text += (
            f"\nClaims not applied ({len(skipped)} row(s)): they were made for other data or "
            "another setting, e.g. "
            + "; ".join(f"{k}: {v}" for k, v in list(skipped.items())[:3])
            + ".\n"
        )
    return text


def more_markdown(summary: pd.DataFrame, metrics: list[str]) -> str:
    """Mean (95% interval) of further metrics, one row per method: threshold-free scores beside
    the F1 at threshold 0.5 above."""
    s = summary[summary["metric"].isin(metrics)] if not summary.empty else summary
    if s.empty:
        return ""
    keys = [c for c in ("dataset", "label") if c in s]
    multi = "dataset" in keys and s["dataset"].nunique() > 1
    head = (["Dataset"] if multi else []) + ["Method", *metrics]
    lines = [_row(head), _row(["---"] * len(head))]
    for group, g in s.groupby(keys, sort=False):
        ident = list(group) if isinstance(group, tuple) else [group]
        g = g.set_index("metric")
        cells = []
        for m in metrics:
            if m not in g.index:
                cells.append("")
                continue
            r = g.loc[m]
            ci = f" ({r['ci_low']:.3f}–{r['ci_high']:.3f})" if np.isfinite(r["ci_low"]) else ""
            cells.append(f"{r['mean']:.3f}{ci}")
        lines.append(_row((ident if multi else ident[-1:]) + cells))
    return (
        "\nThreshold-free and balanced metrics, mean over seeds (95% interval as above):\n\n"
        + "\n".join(lines)
        + "\n"
    )


def _kfold_words(varied: str) -> str:
    """``5-fold x 3 repeats + model seed`` in words for the line above the table."""
    if "-fold x " not in varied:
        return "see the Varied column"
    k, r = varied.split("-fold x ")[0], varied.split(" x ")[1].split(" ")[0]
    return (
        f"repeated stratified {k}-fold cross-validation, {r} repeats: each seed drew its own "
        f"fold assignment (every row tested once per repeat) and seeded the models; a seed's "
        "value is pooled from its folds' counts"
    )


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def plot(rows: pd.DataFrame, path: Path) -> Path:
    """Per-seed minority precision / recall / F1 per method, one strip per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in ("minority_precision", "minority_recall", "minority_f1") if m in rows]
    labels = list(dict.fromkeys(rows["label"]))
    fig, axes = plt.subplots(
        1,
        len(metrics),
        figsize=(4 * len(metrics), 0.5 * len(labels) + 2),
        sharey=True,
        squeeze=False,
    )
    rng = np.random.default_rng(0)
    for ax, m in zip(axes[0], metrics, strict=True):
        for i, lab in enumerate(labels):
            v = rows.loc[rows["label"] == lab, m].astype(float).to_numpy()
            ax.scatter(v, i + rng.uniform(-0.12, 0.12, len(v)), s=14, alpha=0.7)
            ax.plot([v.min(), v.max()], [i, i], color="grey", lw=1)
        ax.set_title(TABLE_METRICS[m])
        ax.set_xlim(-0.02, 1.02)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(range(len(labels)), labels)
    axes[0][0].invert_yaxis()  # first method on top, as in the table
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
