"""Tables for a paper or a slide: ``imbsweep-report --format latex`` / ``--format markdown``.

Written from the report's own files (``ranges.csv``, ``paired.csv``, ``remedy_effects.csv``,
``significance.csv``, ``ranks.csv``), so an export never recomputes a number: the ranges table
(mean ± sd and the 95% interval of the mean per method), then the comparisons of the headline
metric as :mod:`imbsweep.stat_tables` shows them (verdict first). LaTeX uses booktabs
(``\\usepackage{booktabs}``). The critical-difference diagram is redrawn as PDF and SVG from
``ranks.csv`` and the Nemenyi p-values in ``significance.csv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from imbsweep import stat_tables

FORMATS = ("latex", "markdown")
# The ranges table's columns: the practical's metrics, then the headline if it is another.
RANGE_METRICS = {
    "minority_f1": "F1 (class 1)",
    "minority_precision": "Precision (class 1)",
    "minority_recall": "Recall (class 1)",
    "balanced_accuracy": "Balanced accuracy",
}
_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    out = "".join(_LATEX_ESCAPES.get(ch, ch) for ch in str(text))
    return out.replace("±", r"$\pm$").replace("–", "--")


def ranges_frame(ranges: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per dataset and method: Seeds, then "mean ± sd [low, high]" per metric."""
    names = dict(RANGE_METRICS)
    if metric not in names:
        names = {metric: metric} | names
    shown = [m for m in names if m in set(ranges["metric"])]
    multi = ranges["dataset"].nunique() > 1
    recs = []
    for (ds, label), g in ranges.groupby(["dataset", "label"], sort=False):
        g = g.set_index("metric")
        rec = ({"Dataset": str(ds)} if multi else {}) | {
            "Method": str(label),
            "Seeds": str(int(g["n_seeds"].iloc[0])),
        }
        for m in shown:
            r = g.loc[m]
            ci = (
                f" [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
                if np.isfinite(r["ci_low"]) and np.isfinite(r["ci_high"])
                else ""
            )
            rec[names[m]] = f"{r['mean']:.3f} ± {r['std']:.3f}{ci}"
        recs.append(rec)
    return pd.DataFrame(recs)


def _markdown(df: pd.DataFrame, caption: str) -> str:
    head = "| " + " | ".join(df.columns) + " |"
    rule = "|" + " --- |" * len(df.columns)
    body = ["| " + " | ".join(str(v).replace("|", "\\|") for v in r) + " |" for r in df.values]
    return f"**{caption}**\n\n" + "\n".join([head, rule, *body]) + "\n"


def _latex(df: pd.DataFrame, caption: str, label: str) -> str:
    cols = "l" * len(df.columns)
    lines = [
        r"\begin{table}[htbp]",
        r"\centering",
        rf"\caption{{{latex_escape(caption)}}}",
        rf"\label{{tab:{label}}}",
        rf"\begin{{tabular}}{{{cols}}}",
        r"\toprule",
        " & ".join(latex_escape(c) for c in df.columns) + r" \\",
        r"\midrule",
        *(" & ".join(latex_escape(v) for v in r) + r" \\" for r in df.values),
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def _read(files: dict[str, Path], name: str) -> pd.DataFrame | None:
    path = files.get(name)
    if path is None or not Path(path).exists():
        return None
    df = pd.read_csv(path)
    return None if df.empty else df


def tables(files: dict[str, Path], metric: str) -> list[tuple[str, str, pd.DataFrame]]:
    """(label, caption, frame) of each table the report's files allow, in reading order."""
    out = []
    if (r := _read(files, "ranges.csv")) is not None:
        out.append(
            (
                "ranges",
                "Mean ± sample sd over seeds, with the 95% interval of the mean "
                f"({' / '.join(sorted(set(r['interval'].dropna().astype(str))))}).",
                ranges_frame(r, metric),
            )
        )

    def add(label: str, view: stat_tables.View, what: str) -> None:
        same = f" Same on every row: {view.caption()}." if view.constant else ""
        out.append((label, what + same, view.frame))

    for name, build, label, what in (
        ("paired.csv", stat_tables.paired, "paired", "Paired comparisons on {m}"),
        ("remedy_effects.csv", stat_tables.remedy_effects, "remedies", "Remedy effects on {m}"),
    ):
        if (df := _read(files, name)) is not None and (df["metric"] == metric).any():
            add(
                label,
                build(df[df["metric"] == metric], metric),
                what.format(m=metric) + "; verdict on the Holm-adjusted p-value at 0.05.",
            )
    if (df := _read(files, "significance.csv")) is not None and (df["metric"] == metric).any():
        omni, pairs = stat_tables.significance(df[df["metric"] == metric], metric)
        add("omnibus", omni, f"Friedman and Iman-Davenport tests on {metric} across datasets.")
        add(
            "across",
            pairs,
            f"Pairs across datasets on {metric}: Wilcoxon signed-rank, Holm-adjusted (verdict).",
        )
    return out


def cd_diagrams(files: dict[str, Path], out_dir: Path, metric: str) -> list[Path]:
    """The critical-difference diagram as PDF and SVG, from ranks.csv and significance.csv."""
    from imbsweep.stats import cd_diagram

    ranks, sig = _read(files, "ranks.csv"), _read(files, "significance.csv")
    if ranks is None or sig is None or metric not in ranks:
        return []
    sig = sig[sig["metric"] == metric]
    if sig.empty:
        return []
    avg = ranks.set_index(ranks.columns[0])[metric].dropna()
    methods = list(avg.index)
    p = pd.DataFrame(1.0, index=methods, columns=methods)
    for r in sig.itertuples():
        if r.method in p.index and r.opponent in p.index:
            p.loc[r.method, r.opponent] = p.loc[r.opponent, r.method] = r.p_nemenyi
    n = int(ranks["n_datasets"].iloc[0]) if "n_datasets" in ranks else len(ranks)
    title = f"{metric}: mean rank over {n} datasets; bars join methods Nemenyi does not separate"
    cd = float(sig["nemenyi_cd"].iloc[0])
    return [cd_diagram(avg, p, out_dir / f"cd_diagram.{ext}", title, cd) for ext in ("pdf", "svg")]


def write(files: dict[str, Path], out_dir: Path, fmt: str, metric: str) -> list[Path]:
    """``tables.tex`` or ``tables.md`` in ``out_dir``, and the CD diagram as PDF and SVG."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: one of {FORMATS}")
    parts = tables(files, metric)
    if fmt == "latex":
        text = "% Needs \\usepackage{booktabs}. Written by imbsweep-report --format latex.\n\n"
        text += "\n".join(_latex(df, cap, label) for label, cap, df in parts)
        path = out_dir / "tables.tex"
    else:
        text = "\n".join(_markdown(df, cap) for _, cap, df in parts)
        path = out_dir / "tables.md"
    path.write_text(text, encoding="utf-8")
    return [path, *cd_diagrams(files, out_dir, metric)]
