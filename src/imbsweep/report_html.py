"""One self-contained HTML page per sweep: ``report.html`` beside ``ranges.md``.

It gathers what the sweep's other files hold and what a person wants to look at first: the
ranges table, per-seed strip plots over box plots per metric and method, precision-recall
curves and confusion matrices per method, the statistics tables (``paired.csv``,
``significance.csv``) and the critical-difference and reliability diagrams. Images are PNGs in
``data:`` URIs and the style is inline: the file opens offline, mailed or copied anywhere.

Confusion matrices come from each seed run's metrics (class counts, recall, predicted
positives), not from artifacts. Precision-recall curves come from each seed run's
``pr_curve.json`` (interpolated precision on a fixed recall grid), averaged over seeds.
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

# Rows of the ranges table and panels of the plots, in this order, when a sweep logged them.
HEADLINE = {
    "minority_f1": "Class 1 F1",
    "minority_precision": "Class 1 precision",
    "minority_recall": "Class 1 recall",
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "average_precision": "Average precision (PR-AUC)",
    "roc_auc": "ROC-AUC",
    "brier": "Brier (lower is better)",
    "mcc": "MCC",
    "gmean": "G-mean",
}
# Panels per figure are one per dataset; beyond this the cross-dataset tables say more.
MAX_DATASET_PANELS = 6
# Reading each seed run's pr_curve.json costs one artifact download: only for small sweeps.
MAX_CURVE_RUNS = 400
# Longer statistics tables are cut (the CSV beside the report has every row).
MAX_TABLE_ROWS = 300

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;
max-width:80rem;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right;vertical-align:top}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.note{color:#555;font-size:.85rem;max-width:60rem}
img{max-width:100%;height:auto;border:1px solid #eee}
.cms{display:flex;flex-wrap:wrap;gap:1rem}.cms table{margin:0}
nav a{margin-right:1rem}.wide{overflow-x:auto}small{color:#555}.ranges td{white-space:nowrap}
h3{font-size:1rem;margin-top:1.5rem}table.stats td.l{overflow-wrap:break-word}
table.stats td:not(.l){white-space:nowrap}details{margin-bottom:1rem}
"""


# ---------------------------------------------------------------------------- pieces


def _esc(x: object) -> str:
    return html.escape(str(x))


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'


def _fig_png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


class _Raw(str):
    """A cell that is HTML already (built here from numbers), not text to escape."""


def _table(df: pd.DataFrame | list[dict], cls: str, left: Iterable[str] = ()) -> str:
    """An HTML table of a frame or of records (records keep :class:`_Raw` cells as they are)."""
    left = set(left)
    recs = df.to_dict("records") if isinstance(df, pd.DataFrame) else df
    columns = list(df.columns) if isinstance(df, pd.DataFrame) else list(recs[0]) if recs else []
    head = "".join(f'<th class="{"l" if c in left else ""}">{_esc(c)}</th>' for c in columns)
    body = []
    for rec in recs:
        cells = []
        for c in columns:
            v = rec.get(c, "")
            if isinstance(v, float):
                v = "" if np.isnan(v) else f"{v:.4g}"
            text = v if isinstance(v, _Raw) else _esc(v)
            cells.append(f'<td class="{"l" if c in left else ""}">{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="wide"><table class="{cls}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _groups(rows: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """(dataset, label, its seed rows), datasets and labels in the sweep's order."""
    out = []
    for ds in dict.fromkeys(rows["dataset"]):
        d = rows[rows["dataset"] == ds]
        for label in dict.fromkeys(d["label"]):
            out.append((str(ds), str(label), d[d["label"] == label]))
    return out


def _matplotlib():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ---------------------------------------------------------------------------- sections


def ranges_table(summary: pd.DataFrame) -> str:
    """Per dataset and method: mean ± sd, min–max and the 95% interval of the mean of each
    metric, from :func:`imbsweep.ranges.summarize` (the interval that matches the protocol)."""
    if summary.empty:
        return '<p class="note">No finished seed runs.</p>'
    multi = "dataset" in summary and summary["dataset"].nunique() > 1
    keys = [k for k in ("dataset", "label") if k in summary]
    recs = []
    for group, g in summary.groupby(keys, sort=False):
        ident = group if isinstance(group, tuple) else (group,)
        ds, label = (ident[0], ident[-1]) if len(ident) > 1 else ("", ident[0])
        g = g.set_index("metric")
        rec = ({"Dataset": ds} if multi else {}) | {
            "Method": label,
            "Seeds": int(g["n_seeds"].iloc[0]),
        }
        for m, head in HEADLINE.items():
            if m not in g.index or not np.isfinite(g.loc[m, "mean"]):
                rec[head] = ""
                continue
            r = g.loc[m]
            ci = f"<br>CI {r['ci_low']:.3f}–{r['ci_high']:.3f}" if np.isfinite(r["ci_low"]) else ""
            rec[head] = _Raw(
                f"<b>{r['mean']:.3f}</b> ± {r['std']:.3f}"
                f"<br><small>{r['min']:.3f}–{r['max']:.3f}{ci}</small>"
            )
        recs.append(rec)
    return _table(recs, "ranges", left=("Dataset", "Method"))


def strip_plots(rows: pd.DataFrame) -> str:
    """One figure per dataset: a box per method with its seeds as points, one panel per metric."""
    plt = _matplotlib()
    metrics = [m for m in HEADLINE if m in rows]
    if not metrics:
        return '<p class="note">No metrics to plot.</p>'
    datasets = list(dict.fromkeys(rows["dataset"]))
    parts = []
    for ds in datasets[:MAX_DATASET_PANELS]:
        d = rows[rows["dataset"] == ds]
        labels = list(dict.fromkeys(d["label"]))
        ncol = min(4, len(metrics))
        nrow = -(-len(metrics) // ncol)
        fig, axes = plt.subplots(
            nrow,
            ncol,
            figsize=(3.6 * ncol, (0.35 * len(labels) + 1.3) * nrow),
            sharey=True,
            squeeze=False,
        )
        rng = np.random.default_rng(0)
        for ax, m in zip(axes.flat, metrics, strict=False):
            vals = [d.loc[d["label"] == lab, m].astype(float).dropna().to_numpy() for lab in labels]
            ax.boxplot(vals, positions=range(len(labels)), orientation="horizontal", widths=0.5)
            for i, v in enumerate(vals):
                ax.scatter(v, i + rng.uniform(-0.15, 0.15, len(v)), s=10, alpha=0.6, zorder=3)
            ax.set_title(HEADLINE[m], fontsize=9)
            ax.tick_params(labelsize=8)
            ax.grid(axis="x", alpha=0.3)
        for ax in axes.flat[len(metrics) :]:
            ax.set_visible(False)
        axes[0][0].set_yticks(range(len(labels)), labels)
        axes[0][0].invert_yaxis()  # first method on top, as in the table
        fig.suptitle(f"{ds}: one point per seed", fontsize=10)
        parts.append(_img(_fig_png(fig), f"strip plots {ds}"))
    if len(datasets) > MAX_DATASET_PANELS:
        parts.append(
            f'<p class="note">Plots for the first {MAX_DATASET_PANELS} of {len(datasets)} '
            "datasets; the tables cover all.</p>"
        )
    return "\n".join(parts)


def confusion_matrices(rows: pd.DataFrame) -> str:
    """Per dataset and method: test rows by true and predicted class, mean per seed.

    From the seed runs' metrics: TP = recall x positives, FP = predicted positives - TP.
    """
    need = ("test_class0", "test_class1", "predicted_positives", "minority_recall")
    if not all(c in rows for c in need):
        return '<p class="note">The seed runs lack the counts a confusion matrix needs.</p>'
    out = []
    for ds, label, g in _groups(rows):
        pos, neg = g["test_class1"].astype(float), g["test_class0"].astype(float)
        tp = (g["minority_recall"].astype(float) * pos).round()
        fp = g["predicted_positives"].astype(float) - tp
        cm = np.array([[(neg - fp).mean(), fp.mean()], [(pos - tp).mean(), tp.mean()]])
        share = cm / cm.sum(axis=1, keepdims=True)
        cells = [[f"{cm[i, j]:.1f} ({share[i, j]:.0%})" for j in (0, 1)] for i in (0, 1)]
        name = f"{label}" + (f" — {ds}" if rows["dataset"].nunique() > 1 else "")
        out.append(
            '<table class="confusion"><caption>' + _esc(name) + f" ({len(g)} seeds)</caption>"
            "<tr><th></th><th>predicted 0</th><th>predicted 1</th></tr>"
            f"<tr><th>true 0</th><td>{cells[0][0]}</td><td>{cells[0][1]}</td></tr>"
            f"<tr><th>true 1</th><td>{cells[1][0]}</td><td>{cells[1][1]}</td></tr></table>"
        )
    return '<div class="cms">' + "".join(out) + "</div>"


def pr_curves(rows: pd.DataFrame, curves: dict[str, dict]) -> str:
    """Mean interpolated precision over seeds per method, shaded between the seeds' min and max."""
    if not curves:
        return '<p class="note">No precision-recall data (seed runs without pr_curve.json).</p>'
    plt = _matplotlib()
    datasets = [d for d in dict.fromkeys(rows["dataset"]) if str(d) in curves]
    shown = datasets[:MAX_DATASET_PANELS]
    fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 4.5), squeeze=False)
    for ax, ds in zip(axes[0], shown, strict=True):
        d = rows[rows["dataset"] == ds]
        for label, c in curves[str(ds)].items():
            p = np.asarray(c["precision"])
            ax.plot(c["recall"], p.mean(axis=0), lw=1.5, label=f"{label} ({len(p)} seeds)")
            ax.fill_between(c["recall"], p.min(axis=0), p.max(axis=0), alpha=0.15)
        if "test_class1" in d and "test_class0" in d:
            prevalence = float((d["test_class1"] / (d["test_class0"] + d["test_class1"])).mean())
            ax.axhline(prevalence, color="grey", lw=1, ls="--", label="no skill (prevalence)")
        ax.set(xlabel="recall (class 1)", ylabel="precision (class 1)", xlim=(0, 1), ylim=(0, 1))
        ax.set_title(f"{ds}: test rows, mean over seeds (band: min–max)", fontsize=9)
        ax.legend(fontsize=7, loc="lower left")
    return _img(_fig_png(fig), "precision-recall curves")


def read_curves(rows: pd.DataFrame) -> dict[str, dict]:
    """dataset -> label -> {recall, precision (one row per seed)} from the runs' pr_curve.json."""
    import mlflow

    from imbsweep.tracking import quiet_downloads

    if "run_id" not in rows or len(rows) > MAX_CURVE_RUNS:
        return {}
    out: dict[str, dict] = {}
    with quiet_downloads():
        for ds, label, g in _groups(rows):
            got = []
            for run_id in g["run_id"]:
                try:
                    got.append(
                        json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/pr_curve.json"))
                    )
                except Exception:  # runs logged before pr_curve.json existed
                    continue
            got = [c for c in got if isinstance(c, dict) and {"recall", "precision"} <= set(c)]
            if got:
                out.setdefault(ds, {})[label] = {
                    "recall": got[0]["recall"],
                    "precision": [c["precision"] for c in got],
                }
    return out


def _view_table(view, cls: str, limit: int = MAX_TABLE_ROWS) -> str:
    """A :class:`imbsweep.stat_tables.View` as a table; verdicts that hold in bold."""
    from imbsweep.stat_tables import NOT_DISTINGUISHABLE

    df = view.frame
    cut = ""
    if len(df) > limit:
        cut = f'<p class="note">First {limit} of {len(df)} rows; all in the CSV file.</p>'
        df = df.head(limit)
    recs = df.to_dict("records")
    for rec in recs:
        v = rec.get("Verdict", "")
        if v and v not in (NOT_DISTINGUISHABLE, "no test", "no difference detected"):
            rec["Verdict"] = _Raw(f"<b>{_esc(v)}</b>")
    numeric = {"Seeds", "Units", "Datasets", "Wins/losses"}
    left = [c for c in df.columns if c not in numeric and not c.startswith(("p", "P("))]
    left = [c for c in left if "diff" not in c.lower() and "Effect" not in c]
    caption = (
        f'<p class="note">Same on every row: {_esc(view.caption())}.</p>' if view.constant else ""
    )
    return caption + _table(recs, f"stats {cls}", left=left) + cut


def _by_metric(df: pd.DataFrame, metric: str, build, cls: str) -> str:
    """The headline metric's rows as a table, the other metrics' rows folded below it."""
    if "metric" not in df or not (df["metric"] == metric).any():
        return _view_table(build(df, metric), cls)
    head, rest = df[df["metric"] == metric], df[df["metric"] != metric]
    out = _view_table(build(head, metric), cls)
    if not rest.empty:
        n = rest["metric"].nunique()
        out += (
            f"<details><summary>The other {n} metric(s): {len(rest)} rows</summary>"
            + _view_table(build(rest, metric), cls)
            + "</details>"
        )
    return out


def stopped_section(path: Path) -> str:
    """Per method: units finished and those stopped by a limit or failed (stopped_units.csv)."""
    from imbsweep.stopped_units import KINDS

    t = pd.read_csv(path)
    multi = t["dataset"].nunique() > 1
    recs = [
        ({"Dataset": r["dataset"]} if multi else {})
        | {"Method": r["label"], "Finished": r["finished"]}
        | {head: r[k] for k, head in KINDS.items()}
        for r in t.to_dict("records")
    ]
    return (
        '<p class="note">Units that did not finish are not in the tables: a method stopped on '
        "its hardest units looks better than it is. Limits: hydra.launcher.unit_timeout / "
        "unit_memory.</p>" + _table(recs, "stopped", left=("Dataset", "Method"))
    )


def stats_section(files: dict[str, Path], metric: str = "minority_f1") -> str:
    """The statistics tables, readable (:mod:`imbsweep.stat_tables`); the CSVs keep every column."""
    from imbsweep import stat_tables

    parts = []

    def read(name: str) -> pd.DataFrame | None:
        path = files.get(name)
        if path is None or not Path(path).exists():
            return None
        df = pd.read_csv(path)
        return df if not df.empty else None

    if (df := read("paired.csv")) is not None:
        parts.append(
            "<h3>Paired comparisons</h3>"
            '<p class="note">Each pair of methods on the same dataset over the same seeds and '
            "folds (or splits), with the interval and test that match the protocol. Diff = first "
            "minus second. Verdict: who is ahead when the p-value, Holm-adjusted over the pairs "
            f"of a dataset and metric, is below {stat_tables.ALPHA}. Every column is in "
            "paired.csv.</p>" + _by_metric(df, metric, stat_tables.paired, "paired")
        )
    if (df := read("remedy_effects.csv")) is not None:
        parts.append(
            "<h3>The remedy's own effect</h3>"
            '<p class="note">Each remedy minus its own model without a remedy, on the same seeds '
            "and folds, against that base at threshold 0.5 and with a tuned threshold. Every "
            "column is in remedy_effects.csv.</p>"
            + _by_metric(df, metric, stat_tables.remedy_effects, "remedy_effects")
        )
    if (df := read("significance.csv")) is not None:
        omni, _ = stat_tables.significance(df, metric)
        parts.append(
            "<h3>Across datasets</h3>"
            '<p class="note">Friedman / Iman-Davenport per metric (do the methods differ at '
            "all?), then each pair: Wilcoxon signed-rank over per-dataset means, Holm-adjusted "
            "(the verdict), Nemenyi, and the Bayesian signed-rank P(better / equal / worse). "
            "Every column is in significance.csv.</p>"
            + _view_table(omni, "omnibus")
            + _by_metric(df, metric, lambda d, m: stat_tables.significance(d, m)[1], "significance")
        )
    return "\n".join(parts)


def _paragraphs(markdown: str) -> str:
    """The verdict's few paragraphs: escaped, with **bold** kept."""
    import re

    out = []
    for para in markdown.strip().split("\n\n"):
        html = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", _esc(para))
        out.append(f'<p class="answer">{html}</p>')
    return "\n".join(out)


def _png_section(path: Path | None, alt: str) -> str:
    return _img(path.read_bytes(), alt) if path is not None and path.exists() else ""


# ---------------------------------------------------------------------------- page


def write(
    rows: pd.DataFrame,
    out_dir: Path,
    files: dict[str, Path],
    title: str = "Sweep report",
    note: str = "",
    plots: bool = True,
    summary: pd.DataFrame | None = None,
    answer: str = "",
    metric: str = "minority_f1",
) -> Path:
    """Write ``out_dir/report.html`` from the unit rows and the report files already written.

    ``summary``: :func:`imbsweep.ranges.summarize` over :data:`HEADLINE`, the table's figures
    and intervals. ``plots=False`` (``report.plot=false``): tables only. ``metric``: the
    headline metric, whose comparisons the statistics tables show first.
    """
    from imbsweep.pooling import repeat_rows
    from imbsweep.ranges import summarize

    t0 = time.perf_counter()
    units, rows = rows, repeat_rows(rows)
    if summary is None:
        summary = summarize(units, metrics=HEADLINE)
    kinds = sorted({str(k) for k in summary.get("interval", pd.Series(dtype=str)) if k})
    methods = list(dict.fromkeys(rows["label"]))
    datasets = list(dict.fromkeys(rows["dataset"]))
    sections: list[tuple[str, str, str]] = [
        *([("answer", "The answer", _paragraphs(answer))] if answer else []),
        (
            "ranges",
            "Ranges over seeds",
            '<p class="note">Per cell: <b>mean</b> ± sample sd over seeds (a k-fold repeat '
            "pooled from its folds), then min–max and the 95% interval of the mean (CI: "
            f"{_esc(' / '.join(kinds) or 'none')}). ranges.md has the same figures for the "
            "practical's metrics, with any claims.</p>" + ranges_table(summary),
        ),
        *(
            [("stopped", "Units that did not finish", stopped_section(files["stopped_units.csv"]))]
            if "stopped_units.csv" in files
            else []
        ),
        *(
            [
                ("plots", "Per-seed values", strip_plots(rows)),
                ("pr", "Precision-recall curves", pr_curves(rows, read_curves(units))),
            ]
            if plots
            else []
        ),
        (
            "confusion",
            "Confusion matrices",
            '<p class="note">Test rows, mean per seed (share of the true class).</p>'
            + confusion_matrices(rows),
        ),
    ]
    stats_html = stats_section(files, metric)
    if stats_html:
        sections.append(("stats", "Statistics", stats_html))
    figures = [
        ("cd", "Critical-difference diagram", _png_section(files.get("cd_diagram.png"), "CD")),
        (
            "reliability",
            "Reliability diagrams",
            _png_section(files.get("reliability.png"), "reliability diagram"),
        ),
    ]
    sections += [s for s in figures if s[2]]
    nav = " ".join(f'<a href="#{i}">{_esc(h)}</a>' for i, h, _ in sections)
    body = "\n".join(f'<section id="{i}"><h2>{_esc(h)}</h2>\n{b}</section>' for i, h, b in sections)
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{_esc(title)}</h1>"
        f'<p class="note">{len(methods)} method(s) on {len(datasets)} dataset(s) '
        f"({_esc(', '.join(map(str, datasets[:8])))}{' ...' if len(datasets) > 8 else ''}), "
        f"{len(units)} finished unit runs; written {time.strftime('%Y-%m-%d %H:%M')}.</p>"
        + (f'<p class="note">{_esc(note)}</p>' if note else "")
        + f"<nav>{nav}</nav>\n{body}\n</body></html>\n"
    )
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    log.debug("report.html in %.1f s", time.perf_counter() - t0)
    return path
