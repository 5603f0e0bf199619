"""The ranges table: per method, the spread over seeds of the minority-class metrics.

Input is long-form per-seed rows (one per seed run); output is a summary frame, rendered as
Markdown and CSV, with the practical's claimed ranges beside the measured ones.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

# The four metrics of the practical's table, with their column headings.
TABLE_METRICS = {
    "minority_precision": "Class 1 Precision",
    "minority_recall": "Class 1 Recall",
    "minority_f1": "Class 1 F1",
    "accuracy": "Accuracy",
}


def load_claims(name_or_path: str | None) -> dict[str, dict[str, list[float]]]:
    """Claimed ranges by method name; a bundled name (e.g. ``practical``) or a YAML path."""
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
    return yaml.safe_load(text).get("methods", {})


def summarize(rows: pd.DataFrame, claims: dict | None = None) -> pd.DataFrame:
    """One row per (label, metric): n_seeds, min, max, mean, std, claim and verdict.

    ``rows`` needs columns ``label``, ``method`` and the metric columns; ``dataset`` is kept
    when present. std is the sample std (ddof=1), 0 for a single seed.
    """
    claims = claims or {}
    keys = [c for c in ("dataset", "label", "method") if c in rows.columns]
    out = []
    for group, g in rows.groupby(keys, sort=False):
        ident = dict(zip(keys, group if isinstance(group, tuple) else (group,), strict=True))
        for metric in TABLE_METRICS:
            if metric not in g:
                continue
            v = g[metric].astype(float).to_numpy()
            lo, hi = float(v.min()), float(v.max())
            claim = claims.get(ident["method"], {}).get(metric)
            out.append(
                {
                    **ident,
                    "metric": metric,
                    "n_seeds": len(v),
                    "min": lo,
                    "max": hi,
                    "mean": float(v.mean()),
                    "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                    "claim_low": claim[0] if claim else np.nan,
                    "claim_high": claim[1] if claim else np.nan,
                    "vs_claim": verdict(lo, hi, claim),
                }
            )
    return pd.DataFrame(out)


def verdict(lo: float, hi: float, claim: list[float] | None) -> str:
    """``inside`` (measured range within the claim), ``overlaps``, ``outside`` or ``-``."""
    if not claim:
        return "-"
    c_lo, c_hi = claim
    eps = 1e-9
    if lo >= c_lo - eps and hi <= c_hi + eps:
        return "inside"
    if hi < c_lo - eps or lo > c_hi + eps:
        return "outside"
    return "overlaps"


def to_markdown(summary: pd.DataFrame) -> str:
    """Measured table (min–max, mean ± std) and, where claims exist, the claim comparison."""
    if summary.empty:
        return "_no finished seed runs_\n"
    keys = [c for c in ("dataset", "label") if c in summary.columns]
    multi_ds = "dataset" in keys and summary["dataset"].nunique() > 1
    head = (["Dataset"] if multi_ds else []) + ["Method", "Seeds"]
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
            cells.append(f"{r['min']:.3f}–{r['max']:.3f} ({r['mean']:.3f} ± {r['std']:.3f})")
            if r["vs_claim"] != "-":
                ccells.append(f"{r['claim_low']:.2f}–{r['claim_high']:.2f}: {r['vs_claim']}")
            else:
                ccells.append("-")
        n = int(g["n_seeds"].iloc[0])
        lines.append(_row(ident + [str(n)] + cells))
        if any(c not in ("-", "") for c in ccells):
            claim_lines.append(_row(ident + [str(n)] + ccells))
    text = "\n".join(lines) + "\n"
    if claim_lines:
        text += "\nClaimed ranges and whether the measured range lies inside them:\n\n"
        text += "\n".join([_row(head), _row(["---"] * len(head)), *claim_lines]) + "\n"
    return text


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
